"""Anthropic-specific behaviour against a FakeServer on real sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from plugbay_anthropic import codec

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import ImagePart, Message, ResponseFormat, Tool, ToolCall, ToolChoice

pytestmark = pytest.mark.timeout(30)

KEY = "sk-ant-quirks-0123456789abcdef"
OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
      "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
      "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def start(usage: dict[str, int] | None = None) -> str:
    return sse("message_start", {"type": "message_start", "message": {
        "id": "msg_s", "type": "message", "role": "assistant", "model": "m", "content": [],
        "usage": usage or {"input_tokens": 5, "output_tokens": 1}}})


def text_block(text: str, index: int = 0) -> list[str]:
    return [sse("content_block_start", {"type": "content_block_start", "index": index,
                                        "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                        "delta": {"type": "text_delta", "text": text}}),
            sse("content_block_stop", {"type": "content_block_stop", "index": index})]


def end(stop: str = "end_turn", usage: dict[str, int] | None = None) -> list[str]:
    return [sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop},
                                  "usage": usage or {"output_tokens": 7}}),
            sse("message_stop", {"type": "message_stop"})]


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    c = plugbay.Client({"providers": {"anthropic": {"api_key": KEY, "base_url": fake_server.url,
                                                    "beta": ["b-1", "b-2"]}}}, env={})
    async with c:
        yield c


async def test_request_body_and_headers(fake_server: FakeServer, client: plugbay.Client) -> None:
    fake_server.add("POST", "/v1/messages", Reply.json(OK))
    messages = [Message.system("Be brief."), Message.user("hi"), Message.system("No emoji."),
                Message.user("again", ImagePart(data="AAAA", media_type="image/jpeg"),
                             ImagePart(url="https://x.test/a.png"),
                             ImagePart(url="data:image/webp;base64,BBBB"))]
    await client.acomplete("anthropic/claude-haiku-4-5", messages, stop=["END"], user="u1",
                           tools=[Tool(name="f", parameters={"type": "object"})],
                           tool_choice=ToolChoice(name="f"), temperature=0.3)
    req = fake_server.last
    assert req.headers["x-api-key"] == KEY and req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["anthropic-beta"] == "b-1,b-2"
    assert "authorization" not in req.headers
    body = req.json()
    assert body["system"] == "Be brief.\n\nNo emoji."
    assert body["max_tokens"] == 8192  # the model's default from prices.toml
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u1"}
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    assert [m["role"] for m in body["messages"]] == ["user"]  # two user turns merged
    blocks = body["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "hi"}
    assert blocks[2]["source"] == {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}
    assert blocks[3]["source"] == {"type": "url", "url": "https://x.test/a.png"}
    assert blocks[4]["source"] == {"type": "base64", "media_type": "image/webp", "data": "BBBB"}


@pytest.mark.parametrize(("choice", "wire"), [
    ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"})])
def test_tool_choice_mapping(choice: str, wire: dict[str, str]) -> None:
    req = plugbay.Request(model="m", messages=[Message.user("x")], tool_choice=choice)
    assert codec.build_body(req, stream=False)["tool_choice"] == wire


def test_unknown_model_gets_fallback_max_tokens_and_schema_output() -> None:
    from plugbay_anthropic.provider import body

    fmt = ResponseFormat(schema={"type": "object"})
    req = plugbay.Request(model="claude-unknown-9", messages=[Message.user("x")],
                          response_format=fmt)
    sent = body(req, stream=True)
    assert sent["max_tokens"] == 4096 and sent["stream"] is True
    assert sent["output_config"] == {"format": {"type": "json_schema",
                                                "schema": {"type": "object"}}}


def test_reasoning_effort_budget_and_adaptive() -> None:
    from plugbay_anthropic.provider import body

    old = body(plugbay.Request(model="claude-haiku-4-5", messages=[Message.user("x")],
                               reasoning_effort="medium"), stream=False)
    assert old["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert old["max_tokens"] > 8192
    capped = body(plugbay.Request(model="claude-haiku-4-5", messages=[Message.user("x")],
                                  reasoning_effort="high", max_tokens=3000), stream=False)
    assert capped["max_tokens"] == 3000 and capped["thinking"]["budget_tokens"] == 2999
    new = body(plugbay.Request(model="claude-sonnet-5-5", messages=[Message.user("x")],
                               reasoning_effort="minimal"), stream=False)
    assert new["thinking"] == {"type": "adaptive"} and new["output_config"] == {"effort": "low"}
    raw = body(plugbay.Request(model="claude-haiku-4-5", messages=[Message.user("x")],
                               extra={"thinking": {"type": "enabled", "budget_tokens": 1500}}),
               stream=False)
    assert raw["thinking"] == {"type": "enabled", "budget_tokens": 1500}


async def test_thinking_is_separate_and_echoed_back(fake_server: FakeServer,
                                                    client: plugbay.Client) -> None:
    thinking = {"type": "thinking", "thinking": "Let me think.", "signature": "SIG=="}
    answer = {**OK, "stop_reason": "tool_use", "content": [
        thinking, {"type": "redacted_thinking", "data": "ENC"},
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
        "usage": {"input_tokens": 10, "output_tokens": 20, "cache_creation_input_tokens": 4,
                  "cache_read_input_tokens": 6}}
    fake_server.add("POST", "/v1/messages", Reply.json(answer), Reply.json(OK))
    done = await client.acomplete("anthropic/claude-haiku-4-5", "q", reasoning_effort="low")
    assert done.text == "Calling." and done.reasoning == "Let me think."
    assert done.finish_reason == "tool_calls" and done.tool_calls[0].args == {"a": 1}
    assert done.usage is not None
    assert (done.usage.input_tokens, done.usage.cached_input_tokens,
            done.usage.cache_write_tokens) == (20, 6, 4)
    blocks = done.extra["provider_data"]["thinking_blocks"]
    assert blocks[0]["signature"] == "SIG==" and blocks[1]["type"] == "redacted_thinking"
    history = [Message.user("q"), done.message(), Message.tool("toolu_1", {"r": 2})]
    await client.acomplete("anthropic/claude-haiku-4-5", history, reasoning_effort="low")
    sent = fake_server.last.json()["messages"]
    assert sent[1]["content"][:2] == [thinking, {"type": "redacted_thinking", "data": "ENC"}]
    assert sent[1]["content"][3] == {"type": "tool_use", "id": "toolu_1", "name": "f",
                                     "input": {"a": 1}}
    assert sent[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"r": 2}'}]}


@pytest.mark.parametrize(("raw", "mapped"), [
    ("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("stop_sequence", "stop"), ("refusal", "content_filter"),
    ("model_context_window_exceeded", "length"), ("something_new", "other")])
async def test_stop_reason_mapping(fake_server: FakeServer, client: plugbay.Client, raw: str,
                                   mapped: str) -> None:
    fake_server.add("POST", "/v1/messages", Reply.sse([start(), *text_block("x"), *end(raw)]))
    async with client.astream("anthropic/claude-haiku-4-5", "q") as s:
        done = await s.get_completion()
    assert (done.finish_reason, done.raw_finish_reason) == (mapped, raw)


async def test_stream_ignores_unknown_events_and_usage_is_cumulative(
        fake_server: FakeServer, client: plugbay.Client) -> None:
    events = [start({"input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 1}),
              sse("ping", {"type": "ping"}), sse("brand_new_event", {"type": "brand_new_event"}),
              *text_block("Hi"), sse("message_delta", {"type": "message_delta", "delta": {},
                                                      "usage": {"output_tokens": 3}}),
              *end("end_turn", {"output_tokens": 9})]
    fake_server.add("POST", "/v1/messages", Reply.sse(events, crlf=True))
    async with client.astream("anthropic/claude-haiku-4-5", "q") as s:
        done = await s.get_completion()
    assert done.text == "Hi" and done.usage is not None
    assert (done.usage.input_tokens, done.usage.output_tokens,
            done.usage.cached_input_tokens) == (105, 9, 100)


async def test_stream_tool_fragments_are_assembled(fake_server: FakeServer,
                                                   client: plugbay.Client) -> None:
    frags = ['{"ci', 'ty": "Pa', 'ris"}']
    events = [start(), sse("content_block_start", {
        "type": "content_block_start", "index": 0,
        "content_block": {"type": "tool_use", "id": "toolu_9", "name": "w", "input": {}}})]
    events += [sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
        "type": "input_json_delta", "partial_json": f}}) for f in frags]
    events += [sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
               *end("tool_use")]
    fake_server.add("POST", "/v1/messages", Reply.sse(events))
    seen = []
    async with client.astream("anthropic/claude-haiku-4-5", "q") as s:
        seen = [e async for e in s if e.type == "tool_call"]
    assert [e.arguments for e in seen] == ["", *frags] and seen[0].id == "toolu_9"
    assert s.completion is not None and s.completion.tool_calls[0].args == {"city": "Paris"}


async def test_mid_stream_error_event_is_typed(fake_server: FakeServer,
                                               client: plugbay.Client) -> None:
    events = [start(), *text_block("part"), sse("error", {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]
    fake_server.add("POST", "/v1/messages", Reply.sse(events))
    with pytest.raises(errors.OverloadedError) as caught:
        async with client.astream("anthropic/claude-haiku-4-5", "q") as s:
            async for _ in s:
                pass
    assert caught.value.retryable and caught.value.provider == "anthropic"


async def test_stream_cut_without_message_stop(fake_server: FakeServer,
                                               client: plugbay.Client) -> None:
    events = [start(), *text_block("partial"), *end()]
    fake_server.add("POST", "/v1/messages", Reply.sse(events[:-1]))  # clean EOF, no stop
    with pytest.raises(errors.StreamError) as caught:
        async with client.astream("anthropic/claude-haiku-4-5", "q") as s:
            await s.get_completion()
    assert caught.value.partial == "partial"
    fake_server.add("POST", "/v1/messages", Reply.sse(events, cut_after=len(events) - 1))
    with pytest.raises((errors.StreamError, errors.ConnectionError)):  # torn connection
        async with client.astream("anthropic/claude-haiku-4-5", "q") as s:
            await s.get_completion()


def _err(etype: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message, **extra},
            "request_id": "req_body"}


@pytest.mark.parametrize(("status", "body", "headers", "cls", "retryable"), [
    (529, _err("overloaded_error", "Overloaded"), {}, errors.OverloadedError, True),
    (429, _err("rate_limit_error", "slow down"), {"retry-after": "7"}, errors.RateLimitError,
     True),
    (429, _err("rate_limit_error", "limit", details={
        "error_code": "enforced_spend_limit_reached"}), {"retry-after": "7"},
     errors.QuotaExceededError, False),
    (400, _err("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
     {}, errors.ContextLengthError, False),
    (402, _err("billing_error", "credit balance too low"), {}, errors.QuotaExceededError, False),
    (403, _err("permission_error", "nope"), {}, errors.PermissionDeniedError, False),
    (404, _err("not_found_error", "model: claude-nope"), {}, errors.ModelNotFoundError, False),
])
async def test_error_mapping(fake_server: FakeServer, client: plugbay.Client, status: int,
                             body: dict[str, Any], headers: dict[str, str],
                             cls: type[errors.APIError], retryable: bool) -> None:
    fake_server.add("POST", "/v1/messages", Reply.json(body, status=status, headers={
        **headers, "request-id": "req_hdr"}))
    with pytest.raises(errors.APIError) as caught:
        await client.acomplete("anthropic/claude-haiku-4-5", "q")
    exc = caught.value
    assert type(exc) is cls and exc.retryable is retryable and exc.status == status
    assert exc.request_id == "req_hdr" and exc.code == body["error"]["type"]
    if "retry-after" in headers:
        assert exc.retry_after == 7.0


async def test_request_id_from_body_when_header_missing(fake_server: FakeServer,
                                                        client: plugbay.Client) -> None:
    fake_server.add("POST", "/v1/messages", Reply.json(_err("api_error", "boom"), status=500))
    with pytest.raises(errors.ProviderError) as caught:
        await client.acomplete("anthropic/claude-haiku-4-5", "q")
    assert caught.value.request_id == "req_body"


async def test_rate_limit_headers_in_extra(fake_server: FakeServer,
                                           client: plugbay.Client) -> None:
    fake_server.add("POST", "/v1/messages", Reply.json(OK, headers={
        "anthropic-ratelimit-requests-remaining": "41",
        "anthropic-ratelimit-tokens-reset": "2026-11-22T10:00:00Z"}))
    done = await client.acomplete("anthropic/claude-haiku-4-5", "q")
    assert done.extra["rate_limits"] == {"requests-remaining": 41,
                                         "tokens-reset": "2026-11-22T10:00:00Z"}


async def test_models_paginate_and_merge_with_table(fake_server: FakeServer,
                                                    client: plugbay.Client) -> None:
    page1 = {"data": [{"type": "model", "id": "claude-haiku-4-5", "display_name": "H",
                       "max_input_tokens": 200000, "max_tokens": 64000}],
             "has_more": True, "first_id": "claude-haiku-4-5", "last_id": "claude-haiku-4-5"}
    page2 = {"data": [{"type": "model", "id": "claude-new-1", "display_name": "New"}],
             "has_more": False, "first_id": "claude-new-1", "last_id": "claude-new-1"}
    route = fake_server.add("GET", "/v1/models", Reply.json(page1), Reply.json(page2))
    models = {m.id: m for m in await client.amodels("anthropic")}
    assert route.hits == 2 and route.requests[1].query["after_id"] == ["claude-haiku-4-5"]
    assert models["claude-new-1"].display_name == "New"
    assert models["claude-haiku-4-5"].context_window == 200000
    assert "claude-sonnet-5-5" in models  # from the table
    assert client.price("anthropic/claude-new-1") is None


async def test_health_probe_is_cheap(fake_server: FakeServer, client: plugbay.Client) -> None:
    route = fake_server.add("GET", "/v1/models", Reply.json({"data": [], "has_more": False}))
    assert [h.status for h in await client.ahealth("anthropic")] == ["ok"]
    assert route.requests[0].query["limit"] == ["1"]
    fake_server.add("GET", "/v1/models", Reply.json(_err("overloaded_error", "busy"), status=529))
    assert (await client.ahealth("anthropic"))[0].status == "degraded"


async def test_missing_key_names_the_variable(fake_server: FakeServer) -> None:
    c = plugbay.Client({"providers": {"anthropic": {"base_url": fake_server.url}}}, env={})
    async with c:
        with pytest.raises(errors.MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
            await c.acomplete("anthropic/claude-haiku-4-5", "q")
        assert (await c.ahealth("anthropic"))[0].status == "down"


def test_codec_merges_consecutive_assistant_turns() -> None:
    system, turns = codec.encode_messages([
        Message.user("a"), Message.assistant("b"),
        Message.assistant(None, [ToolCall(id="t", name="f", arguments="not json")])])
    assert system is None and [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[1]["content"][1] == {"type": "tool_use", "id": "t", "name": "f", "input": {}}


async def test_stream_codec_runs_without_http() -> None:
    """The pure stream codec, as the Vertex AI plugin drives it: bytes in, events out."""
    from plugbay_anthropic import streaming as anthropic_stream

    raw = "".join([start(), *text_block("Hi"), *end()]).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 7):  # split mid-line and mid-event
            yield raw[i:i + 7]

    events = [e async for e in anthropic_stream.aiter_events(chunks())]
    assert [e.type for e in events] == ["text", "usage", "finish"]

    async def cut() -> AsyncIterator[bytes]:
        yield raw[: raw.index(b"event: message_stop")]

    with pytest.raises(errors.StreamError):
        _ = [e async for e in anthropic_stream.aiter_events(cut())]
