"""The conformance ground, covered directly for an in-process provider.

``ProviderConformance`` scripts a fake HTTP server through a ``Wire`` and checks what
reached it (auth headers, the tools in the body, health going down with the server). The
mock sends nothing over a socket, so half of those tests would have to be overridden; the
same promises are checked here instead, through the installed entry point and
``plugbay.Client``: complete, a stream joined equals complete, sync equals async, tool
calls whole and streamed, unique model ids, a dated price for every listed model, health,
the error kinds with the conformance kit's classes, and no network at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.http.models import HTTPRequest
from plugbay.testing.wire import ERROR_KINDS

pytestmark = pytest.mark.timeout(20)
TOOL = plugbay.Tool(name="get_weather", description="Weather for a city",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}}})
ARGS = {"city": "Paris", "units": "celsius"}


class NoNetwork:
    """A transport that fails the test if anything tries to send a request."""

    sent: list[HTTPRequest]

    def __init__(self) -> None:
        self.sent = []

    async def send(self, request: HTTPRequest) -> Any:
        self.sent.append(request)
        raise AssertionError(f"the mock sent {request.method} {request.url}")

    async def aclose(self) -> None:
        pass


def client(**options: Any) -> plugbay.Client:
    config = {"providers": {"mock": options}, "ledger": {"path": "off"}}
    return plugbay.Client(config, env={}, transport=NoNetwork())


def test_discovered_through_entry_point() -> None:
    with client() as c:
        c.price("mock/echo")  # loads the plugin
        status = {s.name: s for s in c.plugins()}
    assert status["mock"].state == "loaded", status["mock"].error
    assert status["mock"].distribution == "plugbay-mock"


async def test_complete_with_no_key_and_no_network() -> None:
    transport = NoNetwork()
    async with plugbay.Client({"ledger": {"path": "off"}}, env={}, transport=transport) as c:
        result = await c.acomplete("mock/echo", "Say hello, plugbay world!", max_tokens=50,
                                   temperature=0.1)
    assert result.text == "Say hello, plugbay world!"
    assert result.finish_reason == "stop" and result.provider == "mock"
    assert result.latency is not None and result.latency >= 0
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (4, 4)
    assert transport.sent == []


async def test_stream_joins_to_complete() -> None:
    async with client() as c:
        whole = await c.acomplete("mock/echo", "Hello, plugbay world !")
        texts = []
        async with c.astream("mock/echo", "Hello, plugbay world !") as stream:
            async for event in stream:
                if event.type == "text":
                    texts.append(event.text)
    assert "".join(texts) == whole.text == "Hello, plugbay world !"
    assert len(texts) > 1, "stream was buffered into one event"
    done = stream.completion
    assert done is not None and done.text == whole.text
    assert done.finish_reason == "stop" and done.usage == whole.usage


def test_sync_matches_async() -> None:
    with client(reply="same") as c:
        sync = c.complete("mock/chat", "hi")
        with c.stream("mock/chat", "hi") as stream:
            joined = "".join(e.text for e in stream if e.type == "text")

    async def run() -> plugbay.Completion:
        async with client(reply="same") as c:
            return await c.acomplete("mock/chat", "hi")

    asynced = asyncio.run(run())
    assert sync.text == asynced.text == joined == "same"
    assert sync.usage == asynced.usage and sync.id == asynced.id


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_tool_call(stream: bool) -> None:
    async with client(tool_call={"name": "get_weather", "arguments": ARGS}) as c:
        if stream:
            async with c.astream("mock/chat", "Weather?", tools=[TOOL]) as s:
                result = await s.get_completion()
        else:
            result = await c.acomplete("mock/chat", "Weather?", tools=[TOOL])
    assert len(result.tool_calls) == 1
    assert result.tool_calls[0].name == "get_weather"
    assert result.tool_calls[0].args == ARGS
    assert result.finish_reason == "tool_calls" and result.text == ""


async def test_list_models_nonempty_unique() -> None:
    async with client(models={"greeter": {"reply": "hi"}, "echo": {"latency": 0}}) as c:
        models = await c.amodels("mock")
    ids = [m.id for m in models]
    assert {"echo", "chat", "chat-large", "greeter"} <= set(ids)
    assert len(ids) == len(set(ids)), f"duplicate model ids: {ids}"
    assert all(m.provider == "mock" for m in models)


async def test_price_for_every_listed_model() -> None:
    async with client() as c:
        for info in await c.amodels("mock"):
            price = c.price(f"mock/{info.id}")
            assert price is not None and price.as_of and price.source
            assert "fictional" in price.source and "mock" in price.source
            assert price.input and price.output, "fictional, but non-zero"
        assert c.price("mock/no-such-model-xyz") is None, \
            "an unknown model must have price None, never a guess"


async def test_health_ok_without_network() -> None:
    async with client() as c:
        [health] = await c.ahealth("mock")
    assert health.status == "ok" and "no network" in (health.detail or "")


@pytest.mark.parametrize("kind", list(ERROR_KINDS))
async def test_error_mapping(kind: str) -> None:
    status, name = ERROR_KINDS[kind]
    async with client() as c:
        for model in (f"mock/error-{status}", f"mock/error-{kind}"):
            with pytest.raises(errors.APIError) as caught:
                await c.acomplete(model, "hi")
            exc = caught.value
            assert isinstance(exc, getattr(errors, name)), f"{model} gave {exc!r}"
            assert exc.provider == "mock" and exc.status == status
            assert exc.retryable is (kind in ("rate_limit", "server", "overloaded"))
