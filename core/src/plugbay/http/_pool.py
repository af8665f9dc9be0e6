"""Connections and their pool, for ``AsyncioTransport``.

``_Conn`` is the ``asyncio.Protocol`` of one connection: it owns the receive buffer and
wakes the reading task; ``_Pool`` keeps idle keep-alive connections per (scheme, host,
port), a per-host limit with a FIFO of waiters, and idle expiry.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

from plugbay.errors import TimeoutError as HTTPTimeoutError
from plugbay.http._h11 import (
    MAX_HEAD,
    Framer,
    HTTPConnectionError,
    parse_response,
)

_HIGH_WATER = 256 * 1024  # pause reading above this many unread bytes (back-pressure)
_INF = float("inf")


class _Stale(HTTPConnectionError):
    """A reused connection died before any response byte: safe to retry once."""


class _Conn(asyncio.Protocol):
    """One socket. Buffers what arrives and wakes the task waiting for it."""

    __slots__ = ("_deadline", "_timeout", "_timer", "_wsize", "buf", "closed", "eof", "exc", "idle",
                 "idle_since", "keep", "loop", "paused", "pool", "released", "reused",
                 "transport", "waiter")

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = self._deadline = 0.0
        self._wsize = 0
        self.closed = self.eof = self.paused = self.idle = self.reused = self.released = False
        self.keep = True
        self.exc: BaseException | None = None
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.idle:  # unsolicited bytes on an idle connection: it cannot be reused
            self.abort()
            return
        self.buf += data
        if len(self.buf) > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.closed = True
        self.exc = exc
        self._wake()
        if self.idle:
            self.pool.drop_idle(self)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def abort(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.abort()

    def wait(self, timeout: float | None) -> asyncio.Future[None]:
        """A future for more bytes, EOF or close; fails after ``timeout`` seconds without any.

        A plain future rather than a coroutine: one frame less on every read.
        """
        fut = self.waiter = self.loop.create_future()
        tr = self.transport
        if self.paused and tr is not None:
            self.paused = False
            tr.resume_reading()
        if timeout is None:
            self._deadline = _INF
        else:
            self._timeout = timeout
            self._deadline = deadline = self.loop.time() + timeout
            self._wsize = tr.get_write_buffer_size() if tr is not None else 0
            # One timer per connection, re-armed lazily when it fires: a timer created and
            # cancelled for every read costs more than parsing the whole response.
            if self._timer is None or self._timer.when() > deadline:
                self._arm(deadline)
        return fut

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer = None
        fut = self.waiter
        if fut is None or fut.done() or self._deadline == _INF:
            return  # not waiting (or without a limit): stay disarmed until the next wait
        now = self.loop.time()
        if self._deadline - now > 0.001:  # bytes arrived since it was armed: not idle
            self._arm(self._deadline)
            return
        size = self.transport.get_write_buffer_size() if self.transport is not None else 0
        if size and size < self._wsize:  # the request body is still uploading: not idle
            self._wsize = size
            self._deadline = now + self._timeout
            self._arm(self._deadline)
            return
        self.waiter = None
        fut.set_exception(HTTPTimeoutError(
            f"read timeout: no data from {self.pool.label} for {self._timeout:g} s"))

    def ended(self, where: str) -> HTTPConnectionError:
        if isinstance(self.exc, OSError):
            return HTTPConnectionError(f"connection to {self.pool.label} failed {where}: "
                                       f"{self.exc}")
        return HTTPConnectionError(f"{self.pool.label} closed the connection {where}")

    async def read_response(
        self, timeout: float | None, head_request: bool,
    ) -> tuple[int, str, list[tuple[str, str]], Framer | None, bool, str]:
        """Wait for the next final response head and parse it (1xx responses are skipped)."""
        buf, start, informational = self.buf, 0, False
        while True:
            i = buf.find(b"\r\n\r\n", start)
            if i < 0:
                if len(buf) > MAX_HEAD:
                    raise HTTPConnectionError(f"response head from {self.pool.label} > 64 KiB")
                if self.closed or self.eof:
                    error = self.ended("before the response headers")
                    if self.reused and not informational and not buf:
                        raise _Stale(str(error))
                    raise error
                start = max(0, len(buf) - 3)
                await self.wait(timeout)
                continue
            parsed = parse_response(buf[:i].decode("latin-1"), head_request)
            del buf[: i + 4]
            if parsed[0] >= 200:
                return parsed
            if parsed[0] == 101:
                raise HTTPConnectionError("unexpected 101 Switching Protocols")
            start, informational = 0, True  # 100 Continue, 103 Early Hints: the real one follows

    async def read_body(self, framer: Framer, timeout: float | None) -> bytes:
        buf = self.buf
        while True:
            if buf:
                data = framer.take(buf)
                if data or framer.done:
                    return data
            if self.closed or self.eof:
                try:
                    framer.at_eof(clean=not isinstance(self.exc, OSError))
                except HTTPConnectionError:
                    raise self.ended("before the response body was complete") from None
                return b""
            await self.wait(timeout)


class _Pool:
    """Connections to one (scheme, host, port). ``total`` counts open and opening ones."""

    __slots__ = ("_timer", "block", "closed", "defaults", "expiry", "idle", "key", "label",
                 "limit", "loop", "prefix", "proxy", "total", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int],
                 authority: str, limit: int, expiry: float) -> None:
        self.loop, self.key, self.limit, self.expiry = loop, key, limit, expiry
        self.label = f"{key[0]}://{authority}"
        self.idle: deque[_Conn] = deque()
        self.waiters: deque[asyncio.Future[_Conn | None]] = deque()
        self.total = 0
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self.proxy: tuple[str, int, str] | None = None
        self.prefix = ""  # "http://host" when requests go to a proxy in absolute form
        self.defaults: dict[str, str] = {}
        self.block = ""

    def take_idle(self) -> _Conn | None:
        idle = self.idle
        if not idle:
            return None
        cutoff = self.loop.time() - self.expiry
        while idle and idle[0].idle_since <= cutoff:  # oldest first: the expired ones
            self.discard(idle.popleft())
        if not idle:
            return None
        conn = idle.pop()  # most recently used: least likely to have been closed by the server
        conn.idle = False
        conn.reused = True
        return conn

    def free_slot(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes to the waiter
                return
        self.total -= 1

    def discard(self, conn: _Conn, keep_slot: bool = False) -> None:
        conn.idle = False
        conn.abort()
        if not conn.released:
            conn.released = True
            if not keep_slot:
                self.free_slot()

    def drop_idle(self, conn: _Conn) -> None:
        try:
            self.idle.remove(conn)
        except ValueError:
            pass
        self.discard(conn)

    def release(self, conn: _Conn) -> None:
        """Pool ``conn`` after a complete response, or close it if it cannot be reused."""
        tr = conn.transport
        if (self.closed or not conn.keep or conn.closed or conn.eof or conn.buf or tr is None
                or tr.is_closing() or tr.get_write_buffer_size()):
            self.discard(conn)
            return
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                conn.reused = True
                fut.set_result(conn)
                return
        conn.idle = True
        conn.idle_since = self.loop.time()
        self.idle.append(conn)
        if self._timer is None:
            self._timer = self.loop.call_later(self.expiry, self._prune)

    def _prune(self) -> None:
        """Close expired idle connections even when no new request comes to notice them."""
        self._timer = None
        now = self.loop.time()
        while self.idle and self.idle[0].idle_since <= now - self.expiry:
            self.discard(self.idle.popleft())
        if self.idle and not self.closed:
            delay = self.idle[0].idle_since + self.expiry - now
            self._timer = self.loop.call_later(max(delay, 0.01), self._prune)

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.idle:
            self.discard(self.idle.pop())
