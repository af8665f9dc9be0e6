"""DeepSeek-specific behaviour against a real FakeServer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import Message, ToolCall

pytestmark = pytest.mark.timeout(20)
KEY = "sk-deepseek-test-4f9a8b7c6d"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"deepseek": {"api_key": KEY, "base_url": server.url}}}
    async with plugbay.Client(config, env={}) as c:
        yield c


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion.chunk", "model": "deepseek-v4-pro",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


REASONER_USAGE = {"prompt_tokens": 30, "completion_tokens": 50, "total_tokens": 80,
                  "prompt_cache_hit_tokens": 20, "prompt_cache_miss_tokens": 10,
                  "completion_tokens_details": {"reasoning_tokens": 40}}


async def test_reasoning_content_is_separate_from_answer(server: FakeServer,
                                                         client: plugbay.Client) -> None:
    body = {"id": "x", "object": "chat.completion", "model": "deepseek-v4-pro",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "42", "reasoning_content": "6 times 7..."}}],
            "usage": REASONER_USAGE}
    server.add("POST", "/chat/completions", Reply.json(body))
    result = await client.acomplete("deepseek/deepseek-v4-pro", "6*7?")
    assert result.text == "42"
    assert result.reasoning == "6 times 7..."
    assert result.usage is not None
    assert result.usage.cached_input_tokens == 20
    assert result.usage.input_tokens == 30
    assert result.usage.reasoning_tokens == 40
    sent = server.last.json()
    assert sent["model"] == "deepseek-v4-pro"
    assert server.last.headers["authorization"] == f"Bearer {KEY}"


async def test_stream_reasoning_then_answer(server: FakeServer, client: plugbay.Client) -> None:
    events = [
        ": keep-alive\n\n",
        chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        chunk({"content": None, "reasoning_content": "Think"}),
        ": keep-alive\n\n",
        chunk({"content": None, "reasoning_content": "ing."}),
        chunk({"content": "Ans", "reasoning_content": None}),
        chunk({"content": "wer", "reasoning_content": None}),
        {**chunk({"content": "", "reasoning_content": None}, "stop"), "usage": REASONER_USAGE},
        "data: [DONE]\n\n",
    ]
    server.add("POST", "/chat/completions", Reply.sse(events))
    kinds = []
    async with client.astream("deepseek/deepseek-v4-pro", "q") as stream:
        async for event in stream:
            kinds.append(event.type)
    done = stream.completion
    assert done is not None
    assert done.text == "Answer"
    assert done.reasoning == "Thinking."
    assert kinds.index("reasoning") < kinds.index("text")
    assert done.usage is not None and done.usage.cached_input_tokens == 20
    assert server.last.json()["stream_options"] == {"include_usage": True}


async def test_blank_lines_before_non_stream_body(server: FakeServer,
                                                  client: plugbay.Client) -> None:
    body = {"id": "x", "object": "chat.completion", "model": "deepseek-flash",
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content": "partial"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                      "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 3}}
    raw = b"\n\n\n\n\n" + json.dumps(body).encode()
    server.add("POST", "/chat/completions", Reply.raw(raw, content_type="application/json"))
    result = await client.acomplete("deepseek/deepseek-flash", "hi", max_tokens=2)
    assert result.text == "partial"
    assert result.finish_reason == "length"
    assert server.last.json()["max_tokens"] == 2


async def test_402_insufficient_balance_is_quota_and_not_retried(
        server: FakeServer, client: plugbay.Client) -> None:
    server.add("POST", "/chat/completions", Reply.json(
        {"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None,
                   "code": "invalid_request_error"}}, status=402))
    with pytest.raises(errors.QuotaExceededError) as caught:
        await client.acomplete("deepseek/deepseek-flash", "hi")
    assert caught.value.retryable is False
    assert caught.value.status == 402
    assert "Insufficient Balance" in str(caught.value)


async def test_503_server_overloaded(server: FakeServer, client: plugbay.Client) -> None:
    server.add("POST", "/chat/completions", Reply.json(
        {"error": {"message": "Server overloaded, please try again later",
                   "type": "service_unavailable_error", "param": None, "code": None}},
        status=503))
    with pytest.raises(errors.OverloadedError) as caught:
        await client.acomplete("deepseek/deepseek-flash", "hi")
    assert caught.value.retryable is True


async def test_stream_cut_before_done_is_stream_error(server: FakeServer,
                                                      client: plugbay.Client) -> None:
    events = [": keep-alive\n\n", chunk({"content": "half"}), chunk({"content": " an"})]
    server.add("POST", "/chat/completions", Reply.sse(events))  # ends cleanly, no [DONE]
    with pytest.raises(errors.StreamError):
        async with client.astream("deepseek/deepseek-flash", "q") as stream:
            async for _ in stream:
                pass
    server.add("POST", "/chat/completions", Reply.sse(events, cut_after=2))  # torn down
    with pytest.raises((errors.StreamError, errors.ConnectionError)):
        async with client.astream("deepseek/deepseek-flash", "q") as stream:
            async for _ in stream:
                pass


async def test_health_uses_balance(server: FakeServer, client: plugbay.Client) -> None:
    server.add("GET", "/user/balance", Reply.json({"is_available": True, "balance_infos": []}))
    [ok] = await client.ahealth("deepseek")
    assert ok.status == "ok"
    assert server.last.path == "/user/balance"
    assert server.last.headers["authorization"] == f"Bearer {KEY}"
    server.add("GET", "/user/balance", Reply.json({"is_available": False, "balance_infos": []}))
    [broke] = await client.ahealth("deepseek")
    assert broke.status == "down" and "balance" in (broke.detail or "")
    server.add("GET", "/user/balance", Reply.json(
        {"error": {"message": "Authentication Fails", "type": "authentication_error"}},
        status=401))
    [denied] = await client.ahealth("deepseek")
    assert denied.status == "down"
    assert KEY not in (denied.detail or "")


async def test_prices_are_dated_and_cached_input_cheaper(client: plugbay.Client) -> None:
    price = client.price("deepseek/deepseek-flash")
    assert price is not None and price.source.startswith("https://api-docs.deepseek.com")
    assert price.cached_input is not None and price.input is not None
    assert price.cached_input < price.input
    assert client.price("deepseek/deepseek-v4-flash") == price  # legacy name, Flash price
    assert client.price("deepseek/deepseek-reasoner") is None  # retired, not priced
    assert client.price("deepseek/deepseek-v9-imaginary") is None


async def test_reasoning_passed_back_only_on_tool_call_turns(server: FakeServer,
                                                             client: plugbay.Client) -> None:
    server.add("POST", "/chat/completions", Reply.json(
        {"id": "x", "object": "chat.completion", "model": "deepseek-v4-pro",
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "Sunny."}}]}))
    history = [
        Message.user("Hi"),
        Message(role="assistant", content="Hello!", reasoning="greet back"),
        Message.user("Weather in Paris?"),
        Message(role="assistant", tool_calls=[ToolCall(id="call_0", name="weather",
                                                       arguments='{"city":"Paris"}')],
                reasoning="I should call the weather tool."),
        Message.tool("call_0", "sunny"),
    ]
    await client.acomplete("deepseek/deepseek-v4-pro", history)
    sent = server.last.json()["messages"]
    assert "reasoning_content" not in sent[1]  # no tool call: not needed, not sent
    assert sent[3]["reasoning_content"] == "I should call the weather tool."
    assert sent[3]["tool_calls"][0]["id"] == "call_0"


async def test_thinking_toggle_option_and_per_call(server: FakeServer) -> None:
    server.add("POST", "/chat/completions", Reply.json(
        {"id": "x", "object": "chat.completion", "model": "deepseek-flash",
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "hi"}}]}))
    config = {"providers": {"deepseek": {"api_key": KEY, "base_url": server.url,
                                         "thinking": False}}}
    async with plugbay.Client(config, env={}) as client:
        await client.acomplete("deepseek/deepseek-flash", "hi")
        assert server.last.json()["thinking"] == {"type": "disabled"}
        await client.acomplete("deepseek/deepseek-flash", "hi",
                               thinking={"type": "enabled"})  # the call wins
        assert server.last.json()["thinking"] == {"type": "enabled"}
