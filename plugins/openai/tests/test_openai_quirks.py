"""OpenAI-specific behaviour and the shared base's edge cases, against real sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
ROUTE = "/v1/chat/completions"


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def client(server):
    with plugbay.Client({"providers": {"openai": {"api_key": "sk-quirk-000000000",
                                                  "base_url": server.url + "/v1"}}},
                        env={}) as c:
        yield c


def chunk(content=None, finish=None):
    return WIRE.chunk("gpt-4o", {"content": content} if content else {}, finish)


def test_request_body_shape(server, client):
    WIRE.script_completion(server, model="gpt-4o", text="ok", usage={"input": 1, "output": 1})
    client.complete("openai/gpt-4o", [plugbay.Message.system("be brief"),
                                      plugbay.Message.user("hi", plugbay.ImagePart(
                                          url="https://x/cat.png"))],
                    max_tokens=20, seed=7, stop=["END"], response_format=plugbay.ResponseFormat(
                        schema={"type": "object"}), tool_choice="auto",
                    logprobs=True)
    body = server.last.json()
    assert body["max_completion_tokens"] == 20 and "max_tokens" not in body
    assert body["seed"] == 7 and body["stop"] == ["END"] and body["logprobs"] is True
    assert body["messages"][1]["content"][1] == {"type": "image_url",
                                                 "image_url": {"url": "https://x/cat.png"}}
    assert body["response_format"]["type"] == "json_schema"
    assert "stream" not in body


def test_insufficient_quota_is_not_retryable(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {"message": "You exceeded your current quota",
                                                    "type": "insufficient_quota",
                                                    "code": "insufficient_quota"}}, status=429))
    with pytest.raises(errors.QuotaExceededError) as caught:
        client.complete("openai/gpt-4o", "hi")
    assert caught.value.retryable is False and caught.value.status == 429


def test_context_length_error(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {
        "message": "This model's maximum context length is 128000 tokens.",
        "type": "invalid_request_error", "code": "context_length_exceeded"}}, status=400))
    with pytest.raises(errors.ContextLengthError):
        client.complete("openai/gpt-4o", "hi")


def test_retry_after_ms_header(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {"message": "slow down"}}, status=429,
                                         headers={"retry-after-ms": "1500"}))
    with pytest.raises(errors.RateLimitError) as caught:
        client.complete("openai/gpt-4o", "hi")
    assert caught.value.retry_after == 1.5


def test_mid_stream_error_is_typed(server, client):
    server.add("POST", ROUTE, Reply.sse([chunk("partial "), {"error": {
        "message": "upstream overloaded", "type": "server_error", "code": 503}}]))
    with pytest.raises(errors.OverloadedError), client.stream("openai/gpt-4o", "hi") as s:
        list(s)


def test_stream_without_done_raises_with_partial_text(server, client):
    server.add("POST", ROUTE, Reply.sse([chunk("Hello "), chunk("wor")]))
    stream = client.stream("openai/gpt-4o", "hi")
    with pytest.raises(errors.StreamError) as caught:
        list(stream)
    assert caught.value.partial == "Hello wor"


def test_cut_connection_mid_stream(server, client):
    server.add("POST", ROUTE, Reply.sse([chunk("a"), chunk("b"), chunk("c")], cut_after=2))
    with pytest.raises((errors.StreamError, errors.ConnectionError)):
        list(client.stream("openai/gpt-4o", "hi"))


def test_bad_gzip_and_malformed_json(server, client):
    server.add("POST", ROUTE, Reply.bad_gzip(b'{"choices": []}'))
    with pytest.raises(errors.ConnectionError, match="gzip"):
        client.complete("openai/gpt-4o", "hi")
    server.add("POST", ROUTE, Reply.raw(b"{not json", content_type="application/json"))
    with pytest.raises(errors.ProviderError, match="malformed"):
        client.complete("openai/gpt-4o", "hi")


def test_gzip_sse_and_comments_and_crlf(server, client):
    events = [": keep-alive\n\n", chunk("Hel"), chunk("lo"), chunk(None, "stop"),
              "data: [DONE]\n\n"]
    server.add("POST", ROUTE, Reply.sse(events, gzip=True, crlf=True))
    with client.stream("openai/gpt-4o", "hi") as s:
        assert "".join(e.text for e in s if e.type == "text") == "Hello"


@pytest.mark.timeout(10)
def test_per_call_timeout(server, client):
    server.add("POST", ROUTE, Reply.stall(5))
    started = time.monotonic()
    with pytest.raises(errors.TimeoutError):
        client.complete("openai/gpt-4o", "hi", timeout=0.3)
    assert time.monotonic() - started < 2


def test_unknown_model_passes_through_with_price_none(server, client):
    WIRE.script_completion(server, model="gpt-9-preview", text="new", usage={"input": 5,
                                                                              "output": 1})
    result = client.complete("openai/gpt-9-preview", "hi")
    assert server.last.json()["model"] == "gpt-9-preview"
    assert result.text == "new" and result.price is None and result.cost is None
    assert client.cost(result) is None


def test_cost_matches_hand_computed(server, client):
    WIRE.script_completion(server, model="gpt-4o", text="x",
                           usage={"input": 1_000_000, "output": 200_000, "cached": 400_000})
    result = client.complete("openai/gpt-4o", "hi")
    cost = client.cost(result)
    # 600k fresh * $2.50 + 400k cached * $1.25 + 200k out * $10, per million
    assert cost is not None and cost.total == pytest.approx(1.5 + 0.5 + 2.0)


async def test_sync_api_inside_running_loop(server, client):
    WIRE.script_completion(server, model="gpt-4o", text="from jupyter", usage={"input": 1,
                                                                                "output": 1})
    assert asyncio.get_running_loop().is_running()
    assert client.complete("openai/gpt-4o", "hi").text == "from jupyter"


def test_config_price_override(server):
    config = {"providers": {"openai": {"api_key": "sk-x1234567", "base_url": server.url + "/v1"}},
              "prices": {"openai/gpt-4o": {"input": 1.0, "output": 2.0, "source": "contract"}}}
    with plugbay.Client(config, env={}) as client:
        price = client.price("openai/gpt-4o")
        assert price is not None and (price.input, price.source) == (1.0, "contract")


def test_organization_and_project_headers(server):
    WIRE.script_completion(server, model="gpt-4o", text="ok", usage={"input": 1, "output": 1})
    env = {"OPENAI_API_KEY": "sk-env-0000000", "OPENAI_BASE_URL": server.url + "/v1",
           "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj-1"}
    with plugbay.Client(env=env) as client:
        client.complete("openai/gpt-4o", "hi")
    headers = server.last.headers
    assert headers["authorization"] == "Bearer sk-env-0000000"
    assert (headers["openai-organization"], headers["openai-project"]) == ("org-1", "proj-1")


def test_keep_alive_pooling(server, client):
    WIRE.script_completion(server, model="gpt-4o", text="ok", usage={"input": 1, "output": 1})
    for _ in range(5):
        client.complete("openai/gpt-4o", "hi")
    assert server.connections == 1


def test_tool_calls_without_a_finish_reason_finish_as_tool_calls(server, client):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": 1}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    server.add("POST", ROUTE, Reply.json(WIRE.completion("gpt-4o", message, None,
                                                         {"input": 3, "output": 2})))
    answer = client.complete("openai/gpt-4o", "hi")
    assert (answer.finish_reason, answer.raw_finish_reason) == ("tool_calls", None)
    server.add("POST", ROUTE, Reply.json(WIRE.completion(
        "gpt-4o", {"role": "assistant", "content": "plain"}, None, {"input": 3, "output": 2})))
    assert client.complete("openai/gpt-4o", "hi").finish_reason == "other"  # no reason, no calls
