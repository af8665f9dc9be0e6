"""Mistral-specific behaviour against a real FakeServer."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from plugbay_mistral import tool_call_id

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import Message, ToolCall

pytestmark = pytest.mark.timeout(20)
KEY = "mistral-test-key-0123456789"
VALID = re.compile(r"^[A-Za-z0-9]{9}$")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"mistral": {"api_key": KEY, "base_url": server.url + "/v1"}}}
    async with plugbay.Client(config, env={}) as c:
        yield c


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {"id": "cmpl-1", "object": "chat.completion", "model": "magistral-medium-latest",
            "created": 1, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}


async def test_random_seed_and_no_stream_options(server: FakeServer,
                                                 client: plugbay.Client) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(completion(
        {"role": "assistant", "content": "ok"})))
    await client.acomplete("mistral/mistral-small-latest", "hi", seed=7, user="u-1")
    sent = server.last.json()
    assert sent["random_seed"] == 7 and "seed" not in sent
    assert "user" not in sent  # Mistral has no such field and rejects unknown ones
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    server.add("POST", "/v1/chat/completions", Reply.sse([chunk, "data: [DONE]\n\n"]))
    async with client.astream("mistral/mistral-small-latest", "hi") as stream:
        done = await stream.get_completion()
    assert done.text == "ok" and done.usage is not None and done.usage.output_tokens == 1
    assert server.last.json()["stream"] is True
    assert "stream_options" not in server.last.json()  # Mistral answers it with 422


def test_tool_call_ids_are_nine_alphanumerics_and_stable() -> None:
    assert tool_call_id("D681PevKs") == "D681PevKs"
    made = tool_call_id("call_abc123")
    assert VALID.match(made) and made == tool_call_id("call_abc123")
    assert tool_call_id("toolu_01") != made


async def test_foreign_tool_ids_rewritten_and_tool_messages_named(
        server: FakeServer, client: plugbay.Client) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(completion(
        {"role": "assistant", "content": "It is 21C."})))
    history = [
        Message.user("Weather in Paris?"),
        Message.assistant(None, [ToolCall(id="call_abc123", name="get_weather",
                                          arguments='{"city": "Paris"}'),
                                 ToolCall(id="Xy12Zk9Qa", name="get_time", arguments="{}")]),
        Message.tool("call_abc123", {"temp": 21}),
        Message.tool("Xy12Zk9Qa", "12:00", name="get_time"),
    ]
    await client.acomplete("mistral/mistral-small-latest", history)
    sent = server.last.json()["messages"]
    calls = sent[1]["tool_calls"]
    assert all(VALID.match(c["id"]) for c in calls)
    assert calls[1]["id"] == "Xy12Zk9Qa"  # already valid: untouched
    assert sent[2]["tool_call_id"] == calls[0]["id"]
    assert sent[2]["name"] == "get_weather"  # filled in from the assistant's call
    assert sent[3]["tool_call_id"] == "Xy12Zk9Qa" and sent[3]["name"] == "get_time"


async def test_magistral_array_content_complete(server: FakeServer,
                                                client: plugbay.Client) -> None:
    content = [{"type": "thinking", "thinking": [{"type": "text", "text": "Let me see. "},
                                                 {"type": "text", "text": "2+2=4."}]},
               {"type": "text", "text": "The answer is 4."}]
    server.add("POST", "/v1/chat/completions", Reply.json(completion(
        {"role": "assistant", "content": content}, "model_length")))
    result = await client.acomplete("mistral/magistral-medium-latest", "2+2?")
    assert result.text == "The answer is 4."
    assert result.reasoning == "Let me see. 2+2=4."
    assert result.finish_reason == "length" and result.raw_finish_reason == "model_length"


async def test_magistral_array_content_stream(server: FakeServer,
                                              client: plugbay.Client) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "c", "object": "chat.completion.chunk", "model": "magistral-small-latest",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Hm"}]}]}),
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "m."}]}]}),
        chunk({"content": [{"type": "text", "text": "Fo"}]}),
        chunk({"content": "ur"}),
        {**chunk({"content": ""}, "stop"),
         "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}},
        "data: [DONE]\n\n",
    ]
    server.add("POST", "/v1/chat/completions", Reply.sse(events))
    async with client.astream("mistral/magistral-small-latest", "2+2?") as stream:
        kinds = [e.type async for e in stream]
    done = stream.completion
    assert done is not None
    assert done.reasoning == "Hmm." and done.text == "Four"
    assert kinds.count("reasoning") == 2 and kinds[-1] == "finish"


async def test_401_plain_message_shape(server: FakeServer, client: plugbay.Client) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"message": "Unauthorized", "request_id": "b7e5f1c2d3"}, status=401))
    with pytest.raises(errors.AuthenticationError) as caught:
        await client.acomplete("mistral/mistral-small-latest", "hi")
    assert caught.value.message == "Unauthorized"
    assert caught.value.request_id == "b7e5f1c2d3"
    assert KEY not in repr(caught.value.body)


async def test_422_detail_is_readable(server: FakeServer, client: plugbay.Client) -> None:
    detail = [{"type": "extra_forbidden", "loc": ["body", "stream_options", "include_usage"],
               "msg": "Extra inputs are not permitted", "input": True}]
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"object": "error", "message": {"detail": detail}, "type": "invalid_request_error",
         "param": None, "code": None}, status=422))
    with pytest.raises(errors.InvalidRequestError) as caught:
        await client.acomplete("mistral/mistral-small-latest", "hi")
    assert caught.value.message == "stream_options.include_usage: Extra inputs are not permitted"
    assert caught.value.status == 422 and caught.value.retryable is False
    # The older shape carried the same detail as a JSON string.
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"object": "error", "message": json.dumps({"detail": [
            {"type": "extra_forbidden", "loc": ["body", "frequency_penalty"],
             "msg": "Extra inputs are not permitted", "input": 0.0}]}),
         "type": "internal_error_proxy", "param": None, "code": "1000"}, status=422))
    with pytest.raises(errors.InvalidRequestError) as caught:
        await client.acomplete("mistral/mistral-small-latest", "hi")
    assert caught.value.message == "frequency_penalty: Extra inputs are not permitted"


async def test_models_capabilities_and_chat_only(server: FakeServer,
                                                 client: plugbay.Client) -> None:
    def item(mid: str, **caps: bool) -> dict[str, Any]:
        return {"id": mid, "object": "model", "owned_by": "mistralai",
                "capabilities": caps, "max_context_length": 32768, "name": mid,
                "aliases": ["x-alias"], "deprecation": None}

    server.add("GET", "/v1/models", Reply.json({"object": "list", "data": [
        item("pixtral-12b", completion_chat=True, function_calling=True, vision=True),
        item("mistral-embed", completion_chat=False, function_calling=False, vision=False),
        item("mistral-moderation-2411", completion_chat=False, classification=True),
    ]}))
    models = {m.id: m for m in await client.amodels("mistral")}
    assert "mistral-moderation-2411" not in models  # neither chat nor embeddings
    assert "mistral-embed" in models  # an embedding model: client.embed serves it
    pixtral = models["pixtral-12b"]
    assert pixtral.supports_vision is True and pixtral.supports_tools is True
    assert pixtral.context_window == 32768
    assert pixtral.extra["aliases"] == ["x-alias"]
    assert "mistral-medium-3.5" in models  # from the price table


async def test_prices(client: plugbay.Client) -> None:
    large = client.price("mistral/mistral-large-2512")
    assert large is not None and large.source.startswith("https://mistral.ai/pricing")
    medium = client.price("mistral/mistral-medium-latest")
    assert medium is not None and medium == client.price("mistral/mistral-medium-3.5")
    assert medium.source.startswith("https://docs.mistral.ai/models/")  # per-row source
    assert client.price("mistral/mistral-large-latest") is None  # moving alias, unknown
    assert client.price("mistral/mistral-unknown-9") is None
