"""Cohere-specific behaviour against a real fake server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

KEY = "co-test-key-1234567890"


def sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


def end(finish: str = "COMPLETE", billed: tuple[int, int] = (3, 4)) -> str:
    return sse("message-end", {"delta": {"finish_reason": finish, "usage": {
        "billed_units": {"input_tokens": billed[0], "output_tokens": billed[1]},
        "tokens": {"input_tokens": 200, "output_tokens": 9}}}})


def delta(text: str = "", thinking: str = "") -> str:
    content = {"thinking": thinking} if thinking else {"text": text}
    return sse("content-delta", {"index": 0, "delta": {"message": {"content": content}}})


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"cohere": {"base_url": fake_server.url}}}
    async with plugbay.Client(config, env={"CO_API_KEY": KEY}) as c:
        yield c


def answer(**message: Any) -> dict[str, Any]:
    return {"id": "resp-1", "finish_reason": message.pop("finish", "COMPLETE"),
            "message": {"role": "assistant", **message},
            "usage": {"billed_units": {"input_tokens": 7, "output_tokens": 3},
                      "tokens": {"input_tokens": 250, "output_tokens": 5},
                      "cached_tokens": 4}}


async def test_body_uses_cohere_field_names(fake_server: FakeServer,
                                            client: plugbay.Client) -> None:
    fake_server.add("POST", "/v2/chat", Reply.json(answer(content=[{"type": "text",
                                                                     "text": "ok"}])))
    tools = [plugbay.Tool(name="a"), plugbay.Tool(name="b", description="B")]
    await client.acomplete("cohere/command-a-03-2025",
                           [plugbay.Message.system("be brief"), plugbay.Message.user("hi")],
                           max_tokens=9, temperature=0.2, top_p=0.5, stop=["END"], seed=3,
                           tools=tools, tool_choice=plugbay.ToolChoice(name="b"),
                           response_format=plugbay.ResponseFormat(schema={"type": "object"}),
                           reasoning_effort="high", safety_mode="OFF")
    body = fake_server.last.json()
    assert fake_server.last.headers["authorization"] == f"Bearer {KEY}"  # CO_API_KEY
    assert body["stream"] is False
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert (body["max_tokens"], body["p"], body["stop_sequences"], body["seed"]) == \
        (9, 0.5, ["END"], 3)
    assert [t["function"]["name"] for t in body["tools"]] == ["b"]  # named -> only that one
    assert body["tool_choice"] == "REQUIRED"
    assert body["response_format"] == {"type": "json_object",
                                       "json_schema": {"type": "object"}}
    assert body["thinking"] == {"type": "enabled"}
    assert body["safety_mode"] == "OFF"  # unknown params pass through
    assert "top_p" not in body and "stop" not in body


async def test_tool_choice_none_and_tool_results(fake_server: FakeServer,
                                                 client: plugbay.Client) -> None:
    fake_server.add("POST", "/v2/chat", Reply.json(answer(content=[{"type": "text",
                                                                     "text": "18C"}])))
    call = plugbay.ToolCall(id="w_1", name="weather", arguments='{"city":"Oslo"}')
    history = [plugbay.Message.user("weather?"),
               plugbay.Message(role="assistant", tool_calls=[call],
                               provider_data={"tool_plan": "I will call weather."}),
               plugbay.Message.tool("w_1", {"temp": 18}),
               plugbay.Message.user(plugbay.TextPart(text="and this?"),
                                    plugbay.ImagePart(url="https://x/img.png"))]
    await client.acomplete("cohere/command-a-03-2025", history,
                           tools=[plugbay.Tool(name="weather")], tool_choice="none")
    body = fake_server.last.json()
    assert body["tool_choice"] == "NONE"
    assistant, tool, user = body["messages"][1:]
    assert assistant["tool_plan"] == "I will call weather."
    assert assistant["tool_calls"][0] == {"id": "w_1", "type": "function", "function": {
        "name": "weather", "arguments": '{"city":"Oslo"}'}}
    assert tool == {"role": "tool", "tool_call_id": "w_1", "content": '{"temp": 18}'}
    assert user["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/img.png"}}


async def test_billed_units_priced_tokens_kept_and_citations(fake_server: FakeServer,
                                                              client: plugbay.Client) -> None:
    citation = {"start": 0, "end": 4, "text": "Oslo", "type": "TEXT_CONTENT",
                "sources": [{"type": "document", "id": "doc:0"}]}
    fake_server.add("POST", "/v2/chat", Reply.json(answer(
        content=[{"type": "thinking", "thinking": "Let me see."},
                 {"type": "text", "text": "Oslo is cold."}], citations=[citation])))
    result = await client.acomplete("cohere/command-r-08-2024", "where?",
                                    documents=[{"data": {"text": "Oslo"}}])
    assert result.text == "Oslo is cold." and result.reasoning == "Let me see."
    # The 4 cache hits fall inside the 243 tokens Cohere added unbilled: no billed input hit.
    assert result.usage == plugbay.Usage(input_tokens=7, output_tokens=3, cached_input_tokens=0)
    assert result.extra["tokens"] == {"input_tokens": 250, "output_tokens": 5}
    assert result.extra["cached_tokens"] == 4
    assert result.extra["citations"] == [citation]
    assert result.id == "resp-1"
    assert result.cost is not None and result.cost.total > 0  # priced on billed units
    assert fake_server.last.json()["documents"] == [{"data": {"text": "Oslo"}}]


@pytest.mark.parametrize(("raw", "mapped"), [
    ("COMPLETE", "stop"), ("STOP_SEQUENCE", "stop"), ("MAX_TOKENS", "length"),
    ("TOOL_CALL", "tool_calls"), ("ERROR", "error"), ("TIMEOUT", "error"), ("NEW", "other")])
async def test_finish_reasons(fake_server: FakeServer, client: plugbay.Client, raw: str,
                              mapped: str) -> None:
    fake_server.add("POST", "/v2/chat", Reply.json(answer(content=[], finish=raw)))
    result = await client.acomplete("cohere/command-r-08-2024", "x")
    assert (result.finish_reason, result.raw_finish_reason) == (mapped, raw)


@pytest.mark.timeout(10)
async def test_stream_thinking_usage_and_trailing_done(fake_server: FakeServer,
                                                       client: plugbay.Client) -> None:
    events = [sse("message-start", {"id": "m1", "delta": {"message": {"role": "assistant"}}}),
              ": keep-alive\n\n", delta(thinking="Hmm. "), delta("Hel"), delta("lo"),
              sse("citation-start", {"index": 0, "delta": {"message": {"citations": {
                  "start": 0, "end": 5, "text": "Hello"}}}}),
              sse("citation-end", {"index": 0}),
              end("MAX_TOKENS"), "data: [DONE]\n\n"]
    fake_server.add("POST", "/v2/chat", Reply.sse(events))
    async with client.astream("cohere/command-r-08-2024", "hi") as s:
        seen = [e async for e in s]
    kinds = [e.type for e in seen]
    assert kinds == ["reasoning", "text", "text", "usage", "finish"]
    done = s.completion
    assert done is not None
    assert (done.text, done.reasoning, done.finish_reason) == ("Hello", "Hmm. ", "length")
    assert done.usage == plugbay.Usage(input_tokens=3, output_tokens=4)
    assert fake_server.last.json()["stream"] is True


@pytest.mark.timeout(10)
async def test_stream_without_message_end_is_an_error(fake_server: FakeServer,
                                                      client: plugbay.Client) -> None:
    fake_server.add("POST", "/v2/chat", Reply.sse([delta("par"), delta("tial")]))
    with pytest.raises(errors.StreamError) as caught:
        async with client.astream("cohere/command-r-08-2024", "hi") as s:
            async for _ in s:
                pass
    assert caught.value.partial == "partial"
    fake_server.add("POST", "/v2/chat", Reply.sse([delta("a"), end()], cut_after=1))
    with pytest.raises(errors.APIError):
        async with client.astream("cohere/command-r-08-2024", "hi") as s:
            async for _ in s:
                pass


async def test_error_event_mid_stream_is_raised(fake_server: FakeServer,
                                                client: plugbay.Client) -> None:
    fake_server.add("POST", "/v2/chat", Reply.sse([
        delta("a"), 'event: error\ndata: {"type":"error","message":"upstream failed"}\n\n']))
    with pytest.raises(errors.ProviderError, match="upstream failed"):
        async with client.astream("cohere/command-r-08-2024", "hi") as s:
            async for _ in s:
                pass


@pytest.mark.parametrize(("status", "message", "cls", "retryable"), [
    (498, "invalid token", errors.AuthenticationError, False),
    (499, "request cancelled", errors.ProviderError, False),
    (400, "too many tokens: size limit exceeded", errors.ContextLengthError, False),
    (422, "invalid request: messages must not be empty", errors.InvalidRequestError, False),
    (429, "rate limited", errors.RateLimitError, True),
    (404, "model 'x' not found", errors.ModelNotFoundError, False),
    (500, "internal", errors.ProviderError, True),
    (503, "unavailable", errors.OverloadedError, True),
])
async def test_error_statuses(fake_server: FakeServer, client: plugbay.Client, status: int,
                              message: str, cls: type[errors.APIError], retryable: bool) -> None:
    fake_server.add("POST", "/v2/chat", Reply.json({"id": "req-77", "message": message},
                                                   status=status))
    with pytest.raises(errors.APIError) as caught:
        await client.acomplete("cohere/command-r-08-2024", "x")
    exc = caught.value
    assert type(exc) is cls
    assert exc.retryable is retryable
    assert exc.request_id == "req-77"  # the body's id when no request-id header
    assert message in str(exc)
    if status == 499:
        assert "cancelled" in exc.message and exc.code == "cancelled"


async def test_models_paginate_and_map_features(fake_server: FakeServer,
                                                client: plugbay.Client) -> None:
    def page(req: Any) -> Reply:
        if req.query.get("page_token") == ["p2"]:
            return Reply.json({"models": [{"name": "command-r7b-12-2024",
                                           "features": ["vision"]}]})
        return Reply.json({"models": [{"name": "command-a-vision", "context_length": 32000,
                                       "features": ["vision", "json_schema"],
                                       "endpoints": ["chat"]}], "next_page_token": "p2"})

    fake_server.add("GET", "/v1/models", page)
    models = {m.id: m for m in await client.amodels("cohere")}
    vision = models["command-a-vision"]
    assert (vision.context_window, vision.supports_vision, vision.supports_tools,
            vision.supports_json_schema) == (32000, True, False, True)
    assert models["command-r7b-12-2024"].context_window == 128000  # table fact kept
    assert "command-a-03-2025" in models  # table rows merged in
    first = fake_server.requests[0]
    assert first.query["endpoint"] == ["chat"]
    assert fake_server.requests[1].query["page_token"] == ["p2"]


async def test_health_probe_and_missing_key(fake_server: FakeServer) -> None:
    fake_server.add("GET", "/v1/models", Reply.json({"models": []}))
    config = {"providers": {"cohere": {"base_url": fake_server.url}}}
    async with plugbay.Client(config, env={"COHERE_API_KEY": KEY}) as c:
        [h] = await c.ahealth("cohere")
        assert h.status == "ok"
        assert fake_server.last.query["page_size"] == ["1"]
    async with plugbay.Client(config, env={}) as c:
        [h] = await c.ahealth("cohere")
        assert h.status == "down" and "CO_API_KEY" in (h.detail or "")
        with pytest.raises(errors.MissingAPIKeyError):
            await c.acomplete("cohere/command-r-08-2024", "x")


def test_prices_dated_and_aliases() -> None:
    with plugbay.Client(env={}) as c:
        p = c.price("cohere/command-r")
        assert p is not None and (p.input, p.output) == (0.15, 0.6)
        assert p.source.startswith("https://cohere.com/pricing")
        assert c.price("cohere/unknown-model") is None


async def test_models_without_key_come_from_the_table(fake_server: FakeServer) -> None:
    config = {"providers": {"cohere": {"base_url": fake_server.url}}}
    async with plugbay.Client(config, env={}) as c:
        ids = {m.id for m in await c.amodels("cohere")}
    assert "command-r-08-2024" in ids and fake_server.requests == []


@pytest.mark.timeout(10)
async def test_stream_calling_a_tool_without_a_finish_reason_finishes_with_tool_calls(
        fake_server: FakeServer, client: plugbay.Client) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "w", "arguments": ""}}
    events = [sse("tool-call-start", {"index": 0, "delta": {"message": {"tool_calls": call}}}),
              sse("tool-call-delta", {"index": 0, "delta": {"message": {"tool_calls": {
                  "function": {"arguments": "{}"}}}}}),
              sse("message-end", {"delta": {"usage": {"billed_units": {"input_tokens": 1}}}})]
    fake_server.add("POST", "/v2/chat", Reply.sse(events))
    async with client.astream("cohere/command-r-08-2024", "hi") as s:
        done = await s.get_completion()
    assert [c.name for c in done.tool_calls] == ["w"]
    assert (done.finish_reason, done.raw_finish_reason) == ("tool_calls", None)
