"""The conformance suite every provider plugin subclasses.

::

    from plugbay.testing.conformance import ProviderConformance
    from plugbay.testing.wire import OpenAIWire

    class TestGroqConformance(ProviderConformance):
        provider = "groq"                 # the entry-point name
        model = "llama-3.3-70b-versatile"
        wire = GroqWire()                 # scripts the fake server in Groq's format

The plugin is loaded through its installed entry point (not imported directly),
and called through ``plugbay.Client`` against a real fake server on 127.0.0.1.
Capability flags switch whole groups off (``supports_tools = False``). A
standard test may be replaced only by listing it in ``overrides`` with a
reason; deleting one or overriding it silently fails ``test_standard_tests_kept``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, WRONG_FRAMES, WRONG_SHAPES, Wire

__all__ = ["ProviderConformance"]

TEXT_PIECES = ["Hello", ", plug", "bay", " world", "!"]
USAGE = {"input": 12, "output": 5, "cached": 2}


class ProviderConformance:
    provider: ClassVar[str]
    model: ClassVar[str]
    wire: ClassVar[Wire]
    secret: ClassVar[str] = "sk-conformance-SECRET-8f3a9c2b71"
    supports_tools: ClassVar[bool] = True
    supports_streaming: ClassVar[bool] = True
    supports_usage: ClassVar[bool] = True
    supports_cached_usage: ClassVar[bool] = True
    via_entry_point: ClassVar[bool] = True
    error_kinds: ClassVar[tuple[str, ...]] = tuple(ERROR_KINDS)
    overrides: ClassVar[dict[str, str]] = {}

    # ------------------------------------------------------------ factory

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        """The provider's config table; override to add required options."""
        return {"api_key": self.secret, "base_url": self.wire.base_url(server.url)}

    def make_client(self, server: FakeServer) -> plugbay.Client:
        # One request per call: the kit checks what one response maps to (its error
        # class and ``retryable``, which is what the client's retries act on).
        config = {"providers": {self.provider: self.provider_options(server)},
                  "routing": {"retries": 0}}
        return plugbay.Client(config, env={}, plugins=self.in_process_plugins())

    def in_process_plugins(self) -> list[object]:
        return []

    @pytest.fixture
    def server(self) -> Iterator[FakeServer]:
        with FakeServer() as srv:
            yield srv

    @pytest.fixture
    async def client(self, server: FakeServer) -> AsyncIterator[plugbay.Client]:
        client = self.make_client(server)
        try:
            yield client
        finally:
            await client.aclose()

    @property
    def target(self) -> str:
        return f"{self.provider}/{self.model}"

    # ------------------------------------------------------------ the tests

    def test_standard_tests_kept(self) -> None:
        """A subclass may not delete or silently override a standard test."""
        for name in dir(ProviderConformance):
            if not name.startswith("test_"):
                continue
            mine = getattr(type(self), name, None)
            if mine is None:
                pytest.fail(f"{name} was deleted; list it in `overrides` with a reason instead")
            if mine is not getattr(ProviderConformance, name) and name not in self.overrides:
                pytest.fail(f"{name} is overridden without a reason in `overrides`")

    def test_discovered_through_entry_point(self, server: FakeServer) -> None:
        if not self.via_entry_point:
            pytest.skip("plugin registered in-process")
        client = self.make_client(server)
        status = {s.name: s for s in client.plugins()}
        assert self.provider in status, f"no entry point named {self.provider!r}"
        client.price(self.target)  # loads the plugin
        status = {s.name: s for s in client.plugins()}
        assert status[self.provider].state == "loaded", status[self.provider].error
        assert status[self.provider].distribution, "entry point has no distribution"

    def test_declares_the_plugin_api(self, server: FakeServer) -> None:
        """The plugin says which plugin API it was built for (``plugin_api``), and it is
        the one this plugbay speaks."""
        from plugbay.hookspecs import PLUGIN_API

        client = self.make_client(server)
        client.price(self.target)  # loads the plugin
        obj = client.host.get(client.context(self.provider).plugin).obj
        declared = getattr(obj, "plugin_api", None)
        assert declared is not None, (
            f"declare `plugin_api = {PLUGIN_API}` in the module the entry point names")
        assert declared == PLUGIN_API, f"built for plugin API {declared}, not {PLUGIN_API}"

    async def test_complete(self, server: FakeServer, client: plugbay.Client) -> None:
        self.wire.script_completion(server, model=self.model, text="".join(TEXT_PIECES),
                                    usage=USAGE)
        result = await client.acomplete(self.target, "Say hello", max_tokens=50,
                                        temperature=0.1)
        assert result.text == "".join(TEXT_PIECES)
        assert result.finish_reason == "stop"
        assert result.provider == self.provider
        assert result.latency is not None and result.latency >= 0
        if self.supports_usage:
            assert result.usage is not None
            assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 5)
            if self.supports_cached_usage:
                assert result.usage.cached_input_tokens == 2
        assert self.wire.auth_present(server.last, self.secret), "auth header missing"

    async def test_stream_joins_to_complete(self, server: FakeServer,
                                            client: plugbay.Client) -> None:
        if not self.supports_streaming:
            pytest.skip("provider does not stream")
        self.wire.script_stream(server, model=self.model, pieces=TEXT_PIECES, usage=USAGE)
        texts = []
        async with client.astream(self.target, "Say hello") as stream:
            async for event in stream:
                if event.type == "text":
                    texts.append(event.text)
        assert "".join(texts) == "".join(TEXT_PIECES)
        assert len(texts) > 1, "stream was buffered into one event"
        done = stream.completion
        assert done is not None and done.text == "".join(TEXT_PIECES)
        assert done.finish_reason == "stop"
        if self.supports_usage:
            assert done.usage is not None and done.usage.output_tokens == 5
        assert self.wire.auth_present(server.last, self.secret)

    def test_sync_matches_async(self, server: FakeServer) -> None:
        self.wire.script_completion(server, model=self.model, text="same", usage=USAGE)
        with self.make_client(server) as client:
            sync = client.complete(self.target, "hi")
            asynced = asyncio.run(_acomplete(self.make_client(server), self.target))
            assert sync.text == asynced.text == "same"
            assert sync.usage == asynced.usage
            if self.supports_streaming:
                self.wire.script_stream(server, model=self.model, pieces=TEXT_PIECES,
                                        usage=USAGE)
                with client.stream(self.target, "hi") as stream:
                    joined = "".join(e.text for e in stream if e.type == "text")
                assert joined == "".join(TEXT_PIECES)

    @pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
    async def test_tool_call(self, server: FakeServer, client: plugbay.Client,
                             stream: bool) -> None:
        if not self.supports_tools:
            pytest.skip("provider has no tool calling")
        if stream and not self.supports_streaming:
            pytest.skip("provider does not stream")
        args = {"city": "Paris", "units": "celsius"}
        self.wire.script_tool_call(server, model=self.model, name="get_weather",
                                   arguments=args, stream=stream)
        tool = plugbay.Tool(name="get_weather", description="Weather for a city",
                            parameters={"type": "object",
                                        "properties": {"city": {"type": "string"}}})
        if stream:
            async with client.astream(self.target, "Weather?", tools=[tool]) as s:
                result = await s.get_completion()
        else:
            result = await client.acomplete(self.target, "Weather?", tools=[tool])
        assert len(result.tool_calls) == 1
        assert result.tool_calls[0].name == "get_weather"
        assert result.tool_calls[0].args == args
        assert result.finish_reason == "tool_calls"
        sent = json.dumps(server.last.json())
        assert "get_weather" in sent, "tools were not sent to the provider"

    async def test_list_models_nonempty_unique(self, server: FakeServer,
                                               client: plugbay.Client) -> None:
        self.wire.script_models(server, [self.model, "other-model"])
        models = await client.amodels(self.provider)
        ids = [m.id for m in models]
        assert ids, "list_models returned nothing"
        assert len(ids) == len(set(ids)), f"duplicate model ids: {ids}"
        assert all(m.provider == self.provider for m in models)

    async def test_price_for_every_listed_model(self, server: FakeServer,
                                                client: plugbay.Client) -> None:
        self.wire.script_models(server, [self.model])
        for info in await client.amodels(self.provider):
            price = client.price(f"{self.provider}/{info.id}")
            if price is not None:
                assert price.as_of and price.source, f"{info.id}: undated or unsourced price"
                assert price.input is None or price.input >= 0
                assert price.output is None or price.output >= 0
        assert client.price(f"{self.provider}/no-such-model-xyz") is None, \
            "an unknown model must have price None, never a guess"

    async def test_health_never_raises(self, server: FakeServer, client: plugbay.Client,
                                       ) -> None:
        self.wire.script_models(server, [self.model])
        ok = await client.ahealth(self.provider)
        assert [h.status for h in ok] == ["ok"], ok
        server.clear()
        self.wire.script_outage(server)
        sick = await client.ahealth(self.provider)
        assert sick[0].status in ("down", "degraded")
        server.stop()
        gone = await client.ahealth(self.provider, timeout=5)
        assert gone[0].status == "down"

    @pytest.mark.parametrize("kind", list(ERROR_KINDS))
    async def test_error_mapping(self, server: FakeServer, client: plugbay.Client,
                                 kind: str) -> None:
        if kind not in self.error_kinds:
            pytest.skip(f"provider has no distinct {kind} error")
        status, name = ERROR_KINDS[kind]
        self.wire.script_error(server, kind=kind, model=self.model)
        with pytest.raises(errors.APIError) as caught:
            await client.acomplete(self.target, "hi")
        exc = caught.value
        assert isinstance(exc, getattr(errors, name)), f"{status} gave {type(exc).__name__}"
        assert exc.provider == self.provider
        assert exc.retryable is (kind in ("rate_limit", "server", "overloaded"))
        if kind == "rate_limit" and exc.retry_after is not None:
            assert exc.retry_after > 0

    @pytest.mark.parametrize("body", list(WRONG_SHAPES))
    async def test_wrong_shaped_200_is_malformed(self, server: FakeServer,
                                                 client: plugbay.Client, body: str) -> None:
        """A 200 whose JSON is no answer (``{}``, ``null``, ``[]``) is an error, never an
        empty success and never a bare ``AttributeError``."""
        self.wire.script_body(server, model=self.model, body=WRONG_SHAPES[body])
        with pytest.raises(errors.MalformedResponseError) as caught:
            await client.acomplete(self.target, "hi")
        assert caught.value.provider == self.provider

    @pytest.mark.parametrize("frame", list(WRONG_FRAMES))
    async def test_wrong_shaped_stream_frame_is_malformed(self, server: FakeServer,
                                                          client: plugbay.Client,
                                                          frame: str) -> None:
        if not self.supports_streaming:
            pytest.skip("provider does not stream")
        self.wire.script_stream_frame(server, model=self.model, frame=WRONG_FRAMES[frame])
        with pytest.raises(errors.MalformedResponseError) as caught:
            async with client.astream(self.target, "hi") as stream:
                await stream.get_completion()
        assert caught.value.provider == self.provider

    async def test_secret_never_leaks(self, server: FakeServer, client: plugbay.Client) -> None:
        self.wire.script_error(server, kind="auth", model=self.model)
        with pytest.raises(errors.APIError) as caught:
            await client.acomplete(self.target, "hi")
        shown = " ".join([str(caught.value), repr(caught.value), repr(caught.value.body),
                          repr(client), repr(client.context(self.provider))])
        assert self.secret not in shown
        assert self.wire.auth_present(server.last, self.secret)


async def _acomplete(client: plugbay.Client, target: str) -> plugbay.Completion:
    async with client:
        return await client.acomplete(target, "hi")
