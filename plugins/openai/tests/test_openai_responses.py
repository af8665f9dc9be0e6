"""The OpenAI Responses API (``POST /v1/responses``) against a FakeServer speaking its
documented wire format (``ResponsesWire``): the choice between it and Chat Completions,
the request body, text, streaming events, tool calls, reasoning summaries, usage with
cached and reasoning tokens, and errors inside a 200 or a stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from plugbay_openai import OpenAI

import plugbay
from plugbay import errors
from plugbay.pricing import PriceTable
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire, ResponsesWire

pytestmark = pytest.mark.timeout(20)
WIRE, CHAT = ResponsesWire(), OpenAIWire()
RESPONSES, CHAT_ROUTE = "/v1/responses", "/v1/chat/completions"
KEY = "sk-responses-test-000000"
LOOKUP = plugbay.Tool(name="lookup", description="Find a city.", parameters={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def client_for(server: FakeServer, **options: Any) -> plugbay.Client:
    table = {"api_key": KEY, "base_url": server.url + "/v1", **options}
    return plugbay.Client({"providers": {"openai": table}}, env={})


def both_routes(server: FakeServer, model: str) -> None:
    CHAT.script_completion(server, model=model, text="via chat", usage={"input": 1, "output": 1})
    WIRE.script_completion(server, model=model, text="via responses",
                           usage={"input": 1, "output": 1})


def stream_reply(model: str, middle: list[dict[str, Any]], output: list[dict[str, Any]],
                 usage: dict[str, int], **kw: Any) -> Reply:
    events = [*WIRE.opening(model), *middle, WIRE.completed(model, output, usage)]
    return Reply.sse(WIRE.sse(events), **kw)


# ------------------------------------------------------------------ choosing the API


@pytest.mark.parametrize(("model", "path"), [
    ("gpt-5-pro", RESPONSES), ("gpt-5-pro-2025-10-06", RESPONSES), ("o3-pro", RESPONSES),
    ("o1-pro", RESPONSES), ("gpt-5-codex", RESPONSES), ("gpt-5.1-codex-mini", RESPONSES),
    ("codex-mini-latest", RESPONSES), ("o3-deep-research", RESPONSES),
    ("computer-use-preview", RESPONSES), ("gpt-5.5-pro", RESPONSES),
    ("gpt-4o", CHAT_ROUTE), ("gpt-5.1", CHAT_ROUTE), ("o3", CHAT_ROUTE),
    ("gpt-9-preview", CHAT_ROUTE),
])
def test_auto_selection_by_model(server, model, path):
    both_routes(server, model)
    with client_for(server) as client:
        result = client.complete(f"openai/{model}", "hi")
    assert server.last.path == path
    assert result.text == ("via responses" if path == RESPONSES else "via chat")


@pytest.mark.parametrize(("setting", "model", "path"), [
    ("chat", "gpt-5-pro", CHAT_ROUTE),
    ("responses", "gpt-4o", RESPONSES),
    ("RESPONSES", "gpt-4o", RESPONSES),
    ({"gpt-4o": "responses", "*": "chat"}, "gpt-4o", RESPONSES),
    ({"gpt-4o": "responses", "*": "chat"}, "gpt-5-pro", CHAT_ROUTE),
    ({"gpt-4o": "responses"}, "gpt-5-pro", RESPONSES),  # unlisted: auto
])
def test_config_forces_chat_or_responses(server, setting, model, path):
    both_routes(server, model)
    with client_for(server, wire_api=setting) as client:
        client.complete(f"openai/{model}", "hi")
    assert server.last.path == path


def test_bad_wire_api_is_a_config_error(server):
    with client_for(server, wire_api="graphql") as client, \
            pytest.raises(errors.ConfigError, match="wire_api must be one of"):
        client.complete("openai/gpt-4o", "hi")
    assert server.requests == []


def test_price_table_marks_models(server):
    class Tabled(OpenAI):
        name = "tabled"

        def table(self) -> PriceTable:
            return PriceTable({"as_of": "2026-11-22", "source": "test", "models": {
                "acme-reasoner": {"api": "responses"},   # the rule would say chat
                "acme-codex": {"api": "chat"},           # the rule would say responses
            }})

    plugin = Tabled()
    both_routes(server, "m")
    config = {"providers": {"tabled": {"api_key": KEY, "base_url": server.url + "/v1"}}}
    with plugbay.Client(config, env={}, plugins={"tabled": plugin}) as client:
        client.complete("tabled/acme-reasoner", "hi")
        assert server.last.path == RESPONSES
        client.complete("tabled/acme-codex", "hi")
        assert server.last.path == CHAT_ROUTE
    assert OpenAI().table().row("gpt-5-pro")["api"] == "responses"  # the shipped table


# ------------------------------------------------------------------ request and response


def test_request_body_shape(server):
    WIRE.script_completion(server, model="gpt-5-pro", text="ok", usage={"input": 1, "output": 1})
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    history = [plugbay.Message.system("Be brief."), plugbay.Message.user("Weather in Oslo?"),
               plugbay.Message.assistant(None, [plugbay.ToolCall(
                   id="call_1", name="lookup", arguments='{"city": "Oslo"}')]),
               plugbay.Message.tool("call_1", "-3C")]
    with client_for(server, organization="org-9") as client:
        client.complete("openai/gpt-5-pro", history, max_tokens=300, stop=["END"], seed=3,
                        user="u1", reasoning_effort="high", tools=[LOOKUP],
                        tool_choice=plugbay.ToolChoice(name="lookup"),
                        response_format=plugbay.ResponseFormat(schema=schema, name="out"),
                        store=False)
    req = server.last
    assert (req.path, req.headers["authorization"]) == (RESPONSES, f"Bearer {KEY}")
    assert req.headers["openai-organization"] == "org-9"
    body = req.json()
    assert body["model"] == "gpt-5-pro" and body["instructions"] == "Be brief."
    assert body["input"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {"type": "function_call", "call_id": "call_1", "name": "lookup",
         "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "-3C"}]
    assert body["max_output_tokens"] == 300 and body["reasoning"] == {"effort": "high"}
    assert body["tools"] == [{"type": "function", "name": "lookup", "description": "Find a city.",
                              "parameters": LOOKUP.parameters}]
    assert body["tool_choice"] == {"type": "function", "name": "lookup"}
    assert body["text"] == {"format": {"type": "json_schema", "name": "out", "schema": schema}}
    assert body["user"] == "u1" and body["store"] is False  # extra passes through
    for chat_only in ("messages", "max_completion_tokens", "max_tokens", "stream_options",
                      "stop", "seed", "stream"):
        assert chat_only not in body


def test_complete_text_reasoning_usage_and_cost(server):
    output = [WIRE.reasoning(["Thinking about ", "greetings."]), WIRE.message("Hello!")]
    usage = {"input": 1_000_000, "output": 200_000, "cached": 400_000, "reasoning": 150_000}
    server.add("POST", RESPONSES, Reply.json(WIRE.response("gpt-5.1-2025-11-13", output, usage),
                                             headers={"x-ratelimit-remaining-requests": "99"}))
    with client_for(server, wire_api="responses") as client:
        result = client.complete("openai/gpt-5.1", "hi")
        cost = client.cost(result)
    assert result.text == "Hello!" and result.reasoning == "Thinking about greetings."
    assert (result.finish_reason, result.raw_finish_reason) == ("stop", "completed")
    assert (result.id, result.model) == ("resp_fake", "gpt-5.1-2025-11-13")
    assert result.usage == plugbay.Usage(input_tokens=1_000_000, output_tokens=200_000,
                                         cached_input_tokens=400_000, reasoning_tokens=150_000)
    assert result.extra["rate_limits"]["remaining-requests"] == 99
    # gpt-5.1: 600k fresh * $1.25 + 400k cached * $0.125 + 200k out * $10, per million
    assert cost is not None and cost.total == pytest.approx(0.75 + 0.05 + 2.0)


def test_complete_tool_calls(server):
    calls = [WIRE.function_call("lookup", '{"city": "Oslo"}', "call_a"),
             WIRE.function_call("lookup", '{"city": "Rome"}', "call_b")]
    server.add("POST", RESPONSES, Reply.json(WIRE.response("gpt-5-pro", calls,
                                                           {"input": 9, "output": 4})))
    with client_for(server) as client:
        result = client.complete("openai/gpt-5-pro", "weather?", tools=[LOOKUP])
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("call_a", "lookup", {"city": "Oslo"}), ("call_b", "lookup", {"city": "Rome"})]


def test_incomplete_is_length(server):
    server.add("POST", RESPONSES, Reply.json(WIRE.response(
        "gpt-5-pro", [WIRE.message("Once upon")], {"input": 3, "output": 2},
        status="incomplete", incomplete_details={"reason": "max_output_tokens"})))
    with client_for(server) as client:
        result = client.complete("openai/gpt-5-pro", "story", max_tokens=2)
    assert (result.text, result.finish_reason) == ("Once upon", "length")
    assert result.raw_finish_reason == "max_output_tokens"


def test_failed_response_in_a_200_is_typed(server):
    failed = WIRE.response("gpt-5-pro", [], None, status="failed", error={
        "code": "rate_limit_exceeded", "message": "Rate limit reached."})
    server.add("POST", RESPONSES, Reply.json(failed))
    with client_for(server) as client, pytest.raises(errors.RateLimitError, match="Rate limit"):
        client.complete("openai/gpt-5-pro", "hi")


@pytest.mark.parametrize("body", [b"{}", b"null", b"[]"])
def test_wrong_shaped_200_is_malformed(server, body):
    server.add("POST", RESPONSES, Reply.raw(body, content_type="application/json"))
    with client_for(server) as client, pytest.raises(errors.MalformedResponseError):
        client.complete("openai/gpt-5-pro", "hi")


def test_http_error_maps_like_chat(server):
    server.add("POST", RESPONSES, Reply.json({"error": {
        "message": "This model is only supported in v1/responses and not in "
                   "v1/chat/completions.", "type": "invalid_request_error", "param": "model",
        "code": None}}, status=400))
    with client_for(server) as client, pytest.raises(errors.InvalidRequestError) as caught:
        client.complete("openai/gpt-5-pro", "hi")
    assert caught.value.provider == "openai" and caught.value.status == 400


# ------------------------------------------------------------------ streaming


async def test_stream_text_reasoning_summary_and_usage(server):
    middle = [*WIRE.reasoning_events(["Plan: ", "say hi."], index=0),
              *WIRE.text_events(["Hel", "lo", "!"], index=1)]
    output = [WIRE.reasoning(["Plan: say hi."]), WIRE.message("Hello!")]
    usage = {"input": 40, "output": 30, "cached": 32, "reasoning": 24}
    server.add("POST", RESPONSES, stream_reply("gpt-5-pro", middle, output, usage,
                                               headers={"x-ratelimit-remaining-tokens": "7"}))
    async with client_for(server, reasoning_summary="auto") as client, client.astream(
            "openai/gpt-5-pro", "hi", reasoning_effort="low") as stream:
        kinds = [(e.type, getattr(e, "text", None)) async for e in stream]
        result = await stream.get_completion()
    body = server.last.json()
    assert body["stream"] is True and "stream_options" not in body
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert [k for k in kinds if k[0] in ("reasoning", "text")] == [
        ("reasoning", "Plan: "), ("reasoning", "say hi."),
        ("text", "Hel"), ("text", "lo"), ("text", "!")]
    assert result.text == "Hello!" and result.reasoning == "Plan: say hi."
    assert result.usage == plugbay.Usage(input_tokens=40, output_tokens=30,
                                         cached_input_tokens=32, reasoning_tokens=24)
    assert result.finish_reason == "stop" and result.extra["rate_limits"]["remaining-tokens"] == 7


@pytest.mark.parametrize(("model", "options", "expect"), [
    ("gpt-5-pro", {"reasoning_summary": "detailed"}, {"summary": "detailed"}),  # reasoning model
    ("gpt-4.1", {"reasoning_summary": "auto"}, None),  # not a reasoning model: never sent
    ("gpt-5-pro", {}, None),  # off by default: unverified organisations get a 400
])
def test_reasoning_summary_only_where_it_is_accepted(server, model, options, expect):
    WIRE.script_completion(server, model=model, text="ok", usage={"input": 1, "output": 1})
    with client_for(server, wire_api="responses", **options) as client:
        client.complete(f"openai/{model}", "hi")
    assert server.last.json().get("reasoning") == expect


def test_per_call_reasoning_extra_keeps_the_effort(server):
    WIRE.script_completion(server, model="gpt-5.1", text="ok", usage={"input": 1, "output": 1})
    with client_for(server, wire_api="responses") as client:
        client.complete("openai/gpt-5.1", "hi", reasoning_effort="high",
                        reasoning={"summary": "concise"})
    assert server.last.json()["reasoning"] == {"effort": "high", "summary": "concise"}


async def test_stream_refusal_is_text(server):
    refusal = {"id": "msg_r", "type": "message", "status": "completed", "role": "assistant",
               "content": [{"type": "refusal", "refusal": "I can't help with that."}]}
    at = {"item_id": "msg_r", "output_index": 0, "content_index": 0}
    middle = [{"type": "response.refusal.delta", **at, "delta": "I can't "},
              {"type": "response.refusal.delta", **at, "delta": "help with that."},
              {"type": "response.refusal.done", **at, "refusal": "I can't help with that."}]
    server.add("POST", RESPONSES, stream_reply("gpt-5-pro", middle, [refusal],
                                               {"input": 3, "output": 5}))
    async with client_for(server) as client, client.astream("openai/gpt-5-pro", "x") as stream:
        streamed = await stream.get_completion()
    server.add("POST", RESPONSES, Reply.json(WIRE.response("gpt-5-pro", [refusal],
                                                           {"input": 3, "output": 5})))
    async with client_for(server) as client:
        whole = await client.acomplete("openai/gpt-5-pro", "x")
    assert streamed.text == whole.text == "I can't help with that."


async def test_stream_tool_calls(server):
    first = WIRE.function_call("lookup", '{"city": "Oslo"}', "call_a")
    second = WIRE.function_call("lookup", '{"city": "Rome"}', "call_b")
    middle = [*WIRE.call_events(first, ['{"city"', ': "Oslo"}'], index=0),
              *WIRE.call_events(second, ['{"ci', 'ty": "Rome"}'], index=1)]
    server.add("POST", RESPONSES, stream_reply("gpt-5-pro", middle, [first, second],
                                               {"input": 9, "output": 4}))
    async with client_for(server) as client, client.astream(
            "openai/gpt-5-pro", "weather?", tools=[LOOKUP]) as stream:
        deltas = [e async for e in stream if e.type == "tool_call"]
        result = await stream.get_completion()
    assert [(d.index, d.id, d.name) for d in deltas if d.name] == [
        (0, "call_a", "lookup"), (1, "call_b", "lookup")]
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("call_a", "lookup", {"city": "Oslo"}), ("call_b", "lookup", {"city": "Rome"})]


async def test_error_event_mid_stream_is_typed(server):
    middle = [*WIRE.opening("gpt-5-pro"), *WIRE.text_events(["Hel", "lo"])[:3],
              {"type": "error", "code": "rate_limit_exceeded", "param": None,
               "message": "Rate limit reached for gpt-5-pro."},
              *WIRE.text_events(["never sent"])[2:3]]
    server.add("POST", RESPONSES, Reply.sse(WIRE.sse(middle)))
    seen: list[str] = []
    async with client_for(server) as client:
        with pytest.raises(errors.RateLimitError, match="Rate limit reached") as caught:
            async with client.astream("openai/gpt-5-pro", "hi") as stream:
                async for event in stream:
                    seen += [event.text] if event.type == "text" else []
    assert seen == ["Hel"] and caught.value.provider == "openai"


async def test_failed_event_mid_stream_is_typed(server):
    failed = WIRE.response("gpt-5-pro", [], None, status="failed", error={
        "code": "server_error", "message": "The model failed to generate a response."})
    events = [*WIRE.opening("gpt-5-pro"), *WIRE.text_events(["Hi"])[:3],
              {"type": "response.failed", "response": failed}]
    server.add("POST", RESPONSES, Reply.sse(WIRE.sse(events)))
    async with client_for(server) as client:
        with pytest.raises(errors.ProviderError, match="failed to generate") as caught:
            async with client.astream("openai/gpt-5-pro", "hi") as stream:
                [e async for e in stream]
    assert caught.value.retryable and caught.value.status == 500


async def test_stream_cut_before_terminal_event(server):
    events = [*WIRE.opening("gpt-5-pro"), *WIRE.text_events(["Hel", "lo"])]  # no completed
    server.add("POST", RESPONSES, Reply.sse(WIRE.sse(events)))
    async with client_for(server) as client:
        with pytest.raises(errors.StreamError, match="terminal"):
            async with client.astream("openai/gpt-5-pro", "hi") as stream:
                [e async for e in stream]


def test_stream_sync_matches_complete(server):
    WIRE.script_stream(server, model="gpt-5-pro", pieces=["a", "b"], usage={"input": 2,
                                                                            "output": 2})
    with client_for(server) as client, client.stream("openai/gpt-5-pro", "hi") as stream:
        text = "".join(e.text for e in stream if e.type == "text")
    assert text == "ab" and stream.completion.usage.output_tokens == 2
    sent = json.loads(server.last.body)
    assert sent["stream"] is True and sent["model"] == "gpt-5-pro"
