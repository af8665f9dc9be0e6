"""Optional transports over third-party clients (``pip install plugbay[httpx]``).

``HttpxTransport`` lets a host app bring its own configured ``httpx.AsyncClient``
(proxies, mounts, event hooks, ``httpx.MockTransport`` in its own tests). It is
slower than the default transport (see docs/architecture.md) but keeps the
httpx API where a user already relies on it. gzip and deflate bodies are decoded
here, in bounded steps like the default transport, rather than by httpx, which
inflates each network read whole (a decompression bomb's ratio, unchecked).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.http._inflate import make_decoder
from plugbay.http.models import Headers, HTTPRequest, HTTPResponse

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpxTransport"]


class _HttpxBody:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import httpx

        coding = self._response.headers.get("content-encoding", "")
        decoder = make_decoder(coding) if coding else None
        try:
            if decoder is None:  # identity, or a coding only httpx knows (br, zstd)
                async for chunk in self._response.aiter_bytes():
                    yield chunk
                return
            async for raw in self._response.aiter_raw():
                chunk = decoder.feed(raw)
                while True:
                    if chunk:
                        yield chunk
                    if not decoder.more:
                        break
                    chunk = decoder.feed(b"")
            decoder.finish()
        except httpx.TimeoutException as exc:
            raise errors.TimeoutError(f"read timed out: {exc}") from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise errors.ConnectionError(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """Send plugbay requests through an ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient | None = None, **client_kwargs: Any) -> None:
        import httpx

        self._client = client or httpx.AsyncClient(**client_kwargs)

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        import httpx

        timeout = httpx.Timeout(connect=request.timeout.connect, read=request.timeout.read,
                                write=request.timeout.read, pool=request.timeout.connect)
        built = self._client.build_request(request.method, request.url, headers=request.headers,
                                           content=request.body, timeout=timeout)
        try:
            response = await self._client.send(built, stream=True)
        except httpx.TimeoutException as exc:
            raise errors.TimeoutError(f"{type(exc).__name__}: {exc}") from None
        except httpx.TransportError as exc:
            raise errors.ConnectionError(f"{type(exc).__name__}: {exc}") from None
        return HTTPResponse(response.status_code, Headers(response.headers.multi_items()),
                            _HttpxBody(response), request=request,
                            reason=response.reason_phrase)

    async def aclose(self) -> None:
        await self._client.aclose()
