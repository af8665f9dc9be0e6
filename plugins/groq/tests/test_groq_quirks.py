"""Groq-specific behaviour against a real FakeServer socket."""

from __future__ import annotations

import json

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply

from .test_groq_conformance import GroqWire

WIRE = GroqWire()
ROUTE = "/openai/v1/chat/completions"
MODEL = "openai/gpt-oss-120b"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server(fake_server):
    return fake_server


@pytest.fixture
def client(server):
    with WIRE.client(server, "groq", api_key="gsk_quirkTESTKEY0000") as c:
        yield c


def test_max_completion_tokens_and_base_path(server, client):
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 3, "output": 1})
    result = client.complete(f"groq/{MODEL}", "hi", max_tokens=64)
    body = server.last.json()
    assert server.last.path == ROUTE
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert result.extra["timing"]["queue_time"] == 0.01
    assert result.price is not None and result.price.input == 0.15


def test_stream_usage_from_x_groq(server, client):
    WIRE.script_stream(server, model=MODEL, pieces=["a", "b"], usage={"input": 9, "output": 4})
    with client.stream(f"groq/{MODEL}", "hi") as s:
        done = s.get_completion()
    assert done.text == "ab"
    assert (done.usage.input_tokens, done.usage.output_tokens) == (9, 4)


def test_top_level_usage_wins_over_x_groq(server, client):
    events = WIRE.stream_events(MODEL, [{"content": "x"}], "stop", {"input": 1, "output": 1})
    events.insert(-1, {"id": "c", "object": "chat.completion.chunk", "model": MODEL,
                       "choices": [], "usage": WIRE.usage({"input": 50, "output": 20})})
    server.add("POST", ROUTE, Reply.sse(events))
    with client.stream(f"groq/{MODEL}", "hi") as s:
        done = s.get_completion()
    assert (done.usage.input_tokens, done.usage.output_tokens) == (50, 20)


def test_stream_without_done_is_an_error(server, client):
    events = WIRE.stream_events(MODEL, [{"content": "x"}], "stop", {"input": 1, "output": 1})
    server.add("POST", ROUTE, Reply.sse(events[:-1]))
    with pytest.raises(errors.StreamError), client.stream(f"groq/{MODEL}", "hi") as s:
        s.get_completion()


def test_tool_use_failed_keeps_failed_generation(server, client):
    failed = '<function=get_weather{"city": "Paris"}</function>'
    server.add("POST", ROUTE, Reply.json({"error": {
        "message": "Failed to call a function. Please adjust your prompt. See "
                   "'failed_generation' for more details.",
        "type": "invalid_request_error", "code": "tool_use_failed",
        "failed_generation": failed}}, status=400, headers={"x-request-id": "req_tf"}))
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.complete(f"groq/{MODEL}", "weather?", tools=[plugbay.Tool(name="get_weather")])
    exc = caught.value
    assert type(exc) is errors.InvalidRequestError and exc.code == "tool_use_failed"
    assert exc.body["error"]["failed_generation"] == failed
    assert exc.retryable is False and exc.request_id == "req_tf"


def test_rate_limit_sets_retry_after_and_limits(server, client):
    headers = {**WIRE.limits, "retry-after": "7", "x-ratelimit-remaining-tokens": "0"}
    server.add("POST", ROUTE, Reply.json(WIRE.error_body("rate_limit", 429), status=429,
                                         headers=headers))
    with pytest.raises(errors.RateLimitError) as caught:
        client.complete(f"groq/{MODEL}", "hi")
    assert caught.value.retry_after == 7.0 and caught.value.retryable
    limits = client.context("groq").state["rate_limits"]
    assert limits["remaining-tokens"] == 0 and limits["limit-requests"] == 1000


def test_rate_limits_on_success(server, client):
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 1, "output": 1})
    result = client.complete(f"groq/{MODEL}", "hi")
    assert result.extra["rate_limits"]["remaining-requests"] == 999
    assert result.extra["rate_limits"]["reset-tokens"] == "250ms"


def test_stream_records_rate_limits(server, client):
    events = WIRE.stream_events(MODEL, [{"content": "x"}], "stop", {"input": 1, "output": 1})
    server.add("POST", ROUTE, Reply.sse(events, headers=WIRE.limits))
    with client.stream(f"groq/{MODEL}", "hi") as s:
        s.get_completion()
    assert client.context("groq").state["rate_limits"]["remaining-tokens"] == 11950


def test_flex_capacity_498_is_retryable_overload(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {
        "message": "Flex tier capacity exceeded. Please try again later.",
        "type": "capacity_exceeded", "code": "capacity_exceeded"}}, status=498))
    with pytest.raises(errors.OverloadedError) as caught:
        client.complete(f"groq/{MODEL}", "hi", service_tier="flex")
    assert caught.value.retryable
    assert server.last.json()["service_tier"] == "flex"


def test_reasoning_field(server, client):
    message = {"role": "assistant", "content": "4", "reasoning": "2+2 is 4"}
    server.add("POST", ROUTE, Reply.json(WIRE.completion(MODEL, message, "stop",
                                                         {"input": 5, "output": 3})))
    result = client.complete(f"groq/{MODEL}", "2+2?", reasoning_format="parsed")
    assert result.reasoning == "2+2 is 4" and result.text == "4"
    assert server.last.json()["reasoning_format"] == "parsed"


def test_models_use_context_window_and_table(server, client):
    WIRE.script_models(server, ["llama-3.3-70b-versatile", "new-model-x"])
    models = {m.id: m for m in client.models("groq")}
    assert models["new-model-x"].context_window == 131072
    assert models["new-model-x"].max_output_tokens == 32768
    assert client.price("groq/new-model-x") is None
    for model_id in ("openai/gpt-oss-120b", "qwen/qwen3-32b"):  # table rows are listed too
        assert model_id in models
        price = client.price(f"groq/{model_id}")
        assert price is not None and price.input and price.output and price.as_of


def test_every_table_model_is_priced_and_listed_offline(server):
    # No key: the listing comes from the table alone, every row with a price and date.
    with plugbay.Client({"providers": {"groq": {"base_url": server.url + "/openai/v1"}}},
                        env={}) as c:
        models = c.models("groq")
        assert len(models) >= 8 and not server.requests
        for info in models:
            price = c.price(f"groq/{info.id}")
            assert price is not None and price.input > 0 and price.output > 0
            assert price.source.startswith("https://")


def test_health_probe_is_models(server, client):
    WIRE.script_models(server, [MODEL])
    (health,) = client.health("groq")
    assert health.status == "ok" and server.last.path == "/openai/v1/models"
    assert server.last.headers["authorization"] == "Bearer gsk_quirkTESTKEY0000"
    server.add("GET", "/openai/v1/models", Reply.json(WIRE.error_body("rate_limit", 429),
                                                      status=429))
    (health,) = client.health("groq")
    assert health.status == "degraded"
    assert json.dumps(health.model_dump(mode="json")).count("gsk_quirk") == 0
