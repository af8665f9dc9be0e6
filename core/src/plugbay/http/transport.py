"""``AsyncioTransport``: plugbay's default HTTP/1.1 client, on a bare ``asyncio.Protocol``.

Chosen by measurement: aiohttp costs 174 ms to import and ~141 us of CPU per request,
a raw asyncio socket ~46 us. This module imports only the standard library (plus
plugbay's own errors) and keeps the per-request path to a handful of small objects:
one protocol object per connection owns a receive buffer, the caller's task parses it.

Connections are pooled per (scheme, host, port) with keep-alive, a per-host limit with a
FIFO of waiters and idle expiry (``plugbay.http._pool``). Wire parsing lives in
``plugbay.http._h11``, gzip/deflate decoding in ``plugbay.http._inflate``.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from plugbay import __version__
from plugbay.errors import ResponseTooLargeError
from plugbay.errors import TimeoutError as HTTPTimeoutError
from plugbay.http._h11 import (
    LENGTH,
    Framer,
    HTTPConnectionError,
    env_proxies,
    proxy_for,
    request_head,
    split_url,
)
from plugbay.http._inflate import Decoder, make_decoder
from plugbay.http._pool import _Conn, _Pool, _Stale
from plugbay.http.models import Headers, HTTPRequest, HTTPResponse, Timeout

if TYPE_CHECKING:
    import ssl

__all__ = ["AsyncioTransport"]

_SEPARATE_BODY = 64 * 1024  # larger bodies are written without concatenating to the head


class _Body:
    """The ``ResponseStream`` of one response: decoded bytes as they arrive."""

    __slots__ = ("_conn", "_decoder", "_framer", "_timeout")

    def __init__(self, conn: _Conn, framer: Framer, decoder: Decoder | None,
                 timeout: float | None) -> None:
        self._conn: _Conn | None = conn
        self._framer = framer
        self._decoder = decoder
        self._timeout = timeout

    @property
    def trailers(self) -> list[tuple[str, str]]:
        """Trailer fields of a chunked body, once it has been read to the end."""
        return self._framer.trailers

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        framer, decoder = self._framer, self._decoder
        while True:
            conn = self._conn
            try:
                if decoder is not None and decoder.more:  # inflate in bounded steps
                    data = decoder.feed(b"")
                elif conn is None:
                    if decoder is not None:
                        self._decoder = None
                        decoder.finish()
                    raise StopAsyncIteration
                else:
                    data = await conn.read_body(framer, self._timeout)
                    if framer.done:
                        self._conn = None
                        conn.pool.release(conn)
                    if decoder is not None:
                        data = decoder.feed(data)
            except BaseException:  # includes cancellation: the connection state is unknown
                if conn is not None and self._conn is conn:
                    self._conn = None
                    conn.pool.discard(conn)
                raise
            if data:
                return data

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        self._decoder = None
        if conn is not None:  # not read to the end: the connection cannot be reused
            conn.pool.discard(conn)

    def __del__(self) -> None:
        conn = self._conn
        if conn is not None:  # dropped unread; free the pool slot
            try:
                conn.pool.discard(conn)
            except Exception:  # the loop may already be closed
                pass


class AsyncioTransport:
    """Pooled HTTP/1.1 over asyncio. Bound to the event loop it is first used on."""

    def __init__(
        self,
        *,
        max_connections_per_host: int = 100,
        keepalive_expiry: float = 30.0,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        verify: bool = True,
        user_agent: str | None = None,
    ) -> None:
        if max_connections_per_host < 1:
            raise ValueError("max_connections_per_host must be at least 1")
        self._limit = max_connections_per_host
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._verify = verify
        self._user_agent = user_agent or f"plugbay/{__version__}"
        self._proxies = env_proxies(os.environ) if trust_env else None
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def __aenter__(self) -> AsyncioTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not None:
            raise RuntimeError(
                "this AsyncioTransport is bound to the event loop it was first used on; "
                "create one transport per event loop")
        self._loop = loop

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        if self._closed:
            raise RuntimeError("this AsyncioTransport is closed")
        scheme, host, port, target, authority = split_url(request.url)
        pool = self._pools.get((scheme, host, port))
        if pool is None:
            pool = self._new_pool(loop, scheme, host, port, authority)
        timeout = request.timeout
        if not isinstance(timeout, Timeout):
            timeout = Timeout.of(timeout)
        method, body = request.method, request.body
        head, keep = request_head(method, pool.prefix + target, pool.defaults, request.headers,
                                  body, pool.block)
        if body and len(body) < _SEPARATE_BODY:
            head, body = head + body, None
        fresh = False
        while True:
            conn = None if fresh else pool.take_idle()
            if conn is None:
                conn = await self._acquire(pool, timeout.connect, fresh)
            try:
                tr = conn.transport
                assert tr is not None
                tr.write(head)
                if body:
                    tr.write(body)
                status, reason, items, framer, keep_alive, coding = await conn.read_response(
                    timeout.read, method == "HEAD")
            except _Stale:
                pool.discard(conn)
                fresh = True  # the server closed an idle keep-alive connection; retry once
                continue
            except BaseException:
                pool.discard(conn)
                raise
            break
        conn.keep = keep and keep_alive
        if framer is None:
            pool.release(conn)
            return HTTPResponse(status, Headers(items), None, request=request, content=b"",
                                reason=reason)
        limit = request.max_body
        if framer.mode == LENGTH and framer.remaining <= len(conn.buf) and (
                framer.remaining <= limit):
            # The whole body is already here (the usual small JSON reply): hand it over as
            # content and pool the connection now, skipping the stream machinery.
            content = framer.take(conn.buf)
            pool.release(conn)
            decoder = make_decoder(coding) if coding else None
            if decoder is not None:
                decoded = decoder.whole(content, limit)  # never inflated past the limit
                if decoded is None:
                    raise ResponseTooLargeError(f"the {decoder.name}-decoded response body",
                                                limit=limit, setting="max_body", status=status)
                content = decoded
            return HTTPResponse(status, Headers(items), None, request=request, content=content,
                                reason=reason)
        stream = _Body(conn, framer, make_decoder(coding) if coding else None, timeout.read)
        return HTTPResponse(status, Headers(items), stream, request=request, reason=reason)

    async def _acquire(self, pool: _Pool, timeout: float | None, fresh: bool) -> _Conn:
        if pool.total < pool.limit:
            pool.total += 1
        elif fresh and pool.idle:
            pool.discard(pool.idle.popleft(), keep_slot=True)
        else:
            fut: asyncio.Future[_Conn | None] = pool.loop.create_future()
            pool.waiters.append(fut)
            try:
                got = await fut
            except BaseException:
                if fut.done() and not fut.cancelled():  # handed a slot while being cancelled
                    got = fut.result()
                    if got is None:
                        pool.free_slot()
                    else:
                        pool.release(got)
                elif fut in pool.waiters:
                    pool.waiters.remove(fut)
                raise
            if got is not None:
                if not fresh and not self._closed:
                    return got
                pool.discard(got, keep_slot=not self._closed)
            elif self._closed:
                pool.free_slot()
            if self._closed:
                raise RuntimeError("this AsyncioTransport is closed")
        return await self._connect(pool, timeout)

    async def _connect(self, pool: _Pool, timeout: float | None) -> _Conn:
        conn = _Conn(pool)
        try:
            await asyncio.wait_for(self._dial(pool, conn), timeout)
        except BaseException as exc:
            conn.released = True
            conn.abort()
            pool.free_slot()
            if isinstance(exc, asyncio.TimeoutError):  # builtin TimeoutError on 3.11+
                within = "" if timeout is None else f" within {timeout:g} s"
                raise HTTPTimeoutError(f"connect timeout: {pool.label} not connected{within}",
                                       ) from None
            if isinstance(exc, OSError):  # refused, DNS, TLS (ssl.SSLError is an OSError)
                raise HTTPConnectionError(f"cannot connect to {pool.label}: {exc}") from exc
            raise
        return conn

    async def _dial(self, pool: _Pool, conn: _Conn) -> None:
        loop = pool.loop
        scheme, host, port = pool.key
        tls = self._ssl_context() if scheme == "https" else None
        if pool.proxy is None:
            await loop.create_connection(lambda: conn, host, port, ssl=tls,
                                         server_hostname=host if tls else None,
                                         **_eyeballs(loop))
            return
        proxy_host, proxy_port, auth = pool.proxy
        await loop.create_connection(lambda: conn, proxy_host, proxy_port, **_eyeballs(loop))
        if tls is None:
            return  # plain http goes through the proxy as absolute-form requests
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        tr = conn.transport
        assert tr is not None
        tr.write(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{auth}\r\n".encode())
        status, reason, *_ = await conn.read_response(None, True)
        if not 200 <= status < 300 or conn.buf:
            raise HTTPConnectionError(
                f"proxy {proxy_host}:{proxy_port} refused CONNECT {authority}: {status} {reason}")
        new = await loop.start_tls(tr, conn, tls, server_hostname=host)
        if new is None:
            raise HTTPConnectionError(f"TLS through proxy to {authority} failed")
        conn.transport = new

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            import ssl  # only https pays for it

            ctx = ssl.create_default_context()
            if not self._verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl = ctx
        return self._ssl

    def _new_pool(self, loop: asyncio.AbstractEventLoop, scheme: str, host: str, port: int,
                  authority: str) -> _Pool:
        pool = _Pool(loop, (scheme, host, port), authority, self._limit, self._expiry)
        defaults = {
            "host": f"Host: {authority}\r\n",
            "user-agent": f"User-Agent: {self._user_agent}\r\n",
            "accept-encoding": "Accept-Encoding: gzip, deflate\r\n",
            "connection": "Connection: keep-alive\r\n",
        }
        if self._proxies is not None:
            pool.proxy = proxy_for(self._proxies, scheme, host, port)
            if pool.proxy is not None and scheme == "http":
                pool.prefix = f"http://{authority}"
                if pool.proxy[2]:
                    defaults["proxy-authorization"] = pool.proxy[2]
        pool.defaults, pool.block = defaults, "".join(defaults.values())
        self._pools[(scheme, host, port)] = pool
        return pool

    async def aclose(self) -> None:
        """Close every pooled connection; responses still being read close when done."""
        self._closed = True
        for pool in self._pools.values():
            try:
                pool.close()
            except RuntimeError:  # the loop we were bound to is already closed
                pass


def _eyeballs(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """Happy Eyeballs (RFC 8305) where the loop has it: asyncio's does, uvloop's (the
    gateway's) takes no such argument."""
    return {"happy_eyeballs_delay": 0.25} if isinstance(loop, asyncio.BaseEventLoop) else {}
