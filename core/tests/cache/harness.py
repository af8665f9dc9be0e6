"""A real bottom for the cache layer: a plain plugbay Client aimed at a FakeServer.

Provider instances ``a`` and ``b`` (both the openai plugin) are served under their own
path prefix of one FakeServer. ``Harness.call`` builds the ``Call`` the client would
hand the cache layer; ``Harness`` itself is the pipeline's bottom: its ``complete`` and
``stream`` make the call through the client, so every miss is one real HTTP request.
Plain module (no pytest), so worker subprocesses import it too.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import plugbay
from plugbay.call import Call
from plugbay.config import load_config
from plugbay.http.client import HTTPClient
from plugbay.pipeline import Pipeline, compose
from plugbay.plugins import PluginHost
from plugbay.streaming import AsyncStream
from plugbay.targets import Targets
from plugbay.testing.replies import Reply
from plugbay.testing.wire import OpenAIWire
from plugbay.types import Completion, Request, StreamEvent, to_messages

WIRE = OpenAIWire()
USAGE = {"input": 1000, "output": 500}
PRICE = {"input": 2.0, "output": 8.0}  # USD per million: a call costs 0.006
COST = (1000 * 2.0 + 500 * 8.0) / 1_000_000
REDIS_URL = os.environ.get("PLUGBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def path(provider: str) -> str:
    return f"/{provider}/v1/chat/completions"


def ok(text: str = "hello", delay: float = 0.0) -> Reply:
    message = {"role": "assistant", "content": text}
    return Reply.json(WIRE.completion("m", message, "stop", USAGE), delay=delay)


def sse(pieces: list[str], **kw: Any) -> Reply:
    return Reply.sse(WIRE.stream_events("m", [{"content": p} for p in pieces], "stop", USAGE),
                     **kw)


def redis_up(url: str = REDIS_URL) -> bool:
    u = urlparse(url)
    try:
        socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=1).close()
    except OSError:
        return False
    return True


class Harness:
    """The client, the targets and the bottom of a pipeline, against ``server_url``."""

    def __init__(self, server_url: str, providers: tuple[str, ...] = ("a", "b")) -> None:
        self.config = {
            "providers": {n: {"plugin": "openai", "api_key": f"sk-test-{n}-0123456789abcdef",
                              "base_url": f"{server_url}/{n}/v1"} for n in providers},
            "prices": {f"{n}/m": PRICE for n in providers},
            "ledger": {"path": "off"},
        }
        self.client = plugbay.Client(self.config, env={})
        self.http = HTTPClient()
        self.targets = Targets(load_config(self.config, {}), PluginHost(env={}), {},
                               self.http)
        self.raw = False
        self.last_stream: AsyncStream | None = None

    def call(self, prompt: Any = "hi", *, provider: str | None = "a", model: str = "m",
             stream: bool = False, cache: str | None = None, ttl: float | None = None,
             timeout: float | None = None, route: str | None = None, **params: Any) -> Call:
        request = Request(model=model, messages=to_messages(prompt), **params)
        target = self.targets.get(provider) if provider is not None else None
        name = f"{provider}/{model}" if provider is not None else route or "?"
        return Call(name, request, stream=stream, target=target, timeout=timeout, route=route,
                    cache=cache, ttl=ttl)

    def pipeline(self, *layers: Any) -> Pipeline:
        return compose(list(layers), self)

    def _args(self, call: Call) -> tuple[str, dict[str, Any]]:
        assert call.target is not None, "the harness serves direct calls only"
        params = call.request.model_dump(exclude={"model", "messages"}, exclude_none=True)
        return f"{call.target.name}/{call.request.model}", params

    async def complete(self, call: Call) -> Completion:
        model, params = self._args(call)
        return await self.client.acomplete(model, call.request.messages,
                                           timeout=call.left(), **params)

    def stream(self, call: Call) -> AsyncIterator[StreamEvent]:
        """Through the client's ``AsyncStream`` (kept in ``last_stream``), or with
        ``raw`` straight from the plugin's stream hook, as the pipeline's bottom will."""
        if self.raw:
            assert call.target is not None
            hook = call.target.plugin.impl("stream")
            events: AsyncIterator[StreamEvent] = hook(request=call.request,
                                                      provider=call.target.ctx)
            return events
        model, params = self._args(call)
        self.last_stream = self.client.astream(model, call.request.messages,
                                               timeout=call.left(), **params)
        return self.last_stream

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.http.aclose()
