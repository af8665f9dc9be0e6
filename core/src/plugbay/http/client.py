"""``HTTPClient``: the one pooled HTTP seam every plugin goes through.

It owns one transport per event loop (a pool is bound to the loop it was made on:
the async API runs on the caller's loop, the sync API on the client's own loop
thread), encodes JSON bodies and query strings, and stamps the provider's name
on transport errors. Plugins receive it as ``provider.http``. Its ``limits`` cap a
body read whole (every request it builds carries ``max_body``) and, for the stream
decoders that are given ``limits.max_event``, one SSE event or NDJSON line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.http.models import HTTPRequest, HTTPResponse, Limits, Timeout, Transport

if TYPE_CHECKING:
    import asyncio

__all__ = ["HTTPClient", "default_transport_factory"]

HeaderInput = Mapping[str, str] | list[tuple[str, str]] | None


def default_transport_factory() -> Transport:
    from plugbay.http.transport import AsyncioTransport  # imported on first request

    return AsyncioTransport()


def _load_running_loop() -> asyncio.AbstractEventLoop:
    # asyncio loads on the first request (a loop runs by then), not with plugbay.
    global _running_loop
    from asyncio import get_running_loop

    _running_loop = get_running_loop
    return get_running_loop()


_running_loop: Callable[[], asyncio.AbstractEventLoop] = _load_running_loop


_encode: Callable[[Any], str] | None = None  # json loads with the first body, not plugbay


def _dumps(value: Any) -> bytes:
    global _encode
    if _encode is None:
        import json

        _encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    return _encode(value).encode()


class HTTPClient:
    """Pooled requests for plugins. Cheap to share; close it with ``aclose``."""

    def __init__(
        self,
        transport: Transport | Callable[[], Transport] | None = None,
        *,
        timeout: Timeout | float | None = None,
        provider: str | None = None,
        limits: Limits | None = None,
        _pools: dict[asyncio.AbstractEventLoop, Transport] | None = None,
        _injectors: list[Callable[[list[tuple[str, str]]], None]] | None = None,
    ) -> None:
        if transport is None:
            self._factory: Callable[[], Transport] = default_transport_factory
        elif isinstance(transport, Transport):
            fixed = transport
            self._factory = lambda: fixed
        else:
            self._factory = transport
        self.timeout = Timeout.of(timeout)
        self.provider = provider
        self.limits = limits or Limits()
        self._pools = {} if _pools is None else _pools
        # Add headers to every request (trace context propagation); shared with views.
        self.injectors: list[Callable[[list[tuple[str, str]]], None]] = (
            [] if _injectors is None else _injectors)

    def bind(self, provider: str, limits: Limits | None = None) -> HTTPClient:
        """The same pools, with errors attributed to ``provider`` (and other ``limits``)."""
        view = HTTPClient(self._factory, timeout=self.timeout, provider=provider,
                          limits=limits or self.limits, _pools=self._pools,
                          _injectors=self.injectors)
        return view

    def transport(self) -> Transport:
        loop = _running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = self._factory()
        return pool

    def build(
        self,
        method: str,
        url: str,
        *,
        headers: HeaderInput = None,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = None,
    ) -> HTTPRequest:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        for inject in self.injectors:
            inject(pairs)
        if json is not None:
            content = _dumps(json)
            if not any(k.lower() == "content-type" for k, _ in pairs):
                pairs.append(("Content-Type", "application/json"))
        if params:
            from urllib.parse import urlencode

            query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
            if query:
                url = f"{url}{'&' if '?' in url else '?'}{query}"
        return HTTPRequest(method, url, pairs, content,
                           self.timeout if timeout is None else Timeout.of(timeout),
                           self.limits.max_body)

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send and return once headers arrive; the caller reads or closes the body."""
        try:
            response = await self.transport().send(request)
            response.provider = self.provider
            return response
        except errors.APIError as exc:
            if exc.provider is None:
                exc.provider = self.provider
            raise

    async def request(self, method: str, url: str, **kw: Any) -> HTTPResponse:
        """Send and read the whole body."""
        response = await self.send(self.build(method, url, **kw))
        try:
            await response.aread()
        except errors.APIError as exc:
            if exc.provider is None:
                exc.provider = self.provider
            raise
        finally:
            await response.aclose()
        return response

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kw: Any) -> AsyncIterator[HTTPResponse]:
        """Send and yield the response with its body unread; closed on exit."""
        response = await self.send(self.build(method, url, **kw))
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the pool of the running loop (others close with their loops)."""
        loop = _running_loop()
        pool = self._pools.pop(loop, None)
        if pool is not None:
            await pool.aclose()

    def pools(self) -> dict[asyncio.AbstractEventLoop, Transport]:
        return self._pools
