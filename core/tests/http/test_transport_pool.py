"""AsyncioTransport connection pool: keep-alive reuse, limits, waiters, expiry, close."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
from _transport_support import get, keepalive, once, read_request, reply, serve

from plugbay.errors import ConnectionError as PBConnectionError
from plugbay.http.models import HTTPRequest
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)


async def test_keep_alive_reuses_one_connection(transport: AsyncioTransport) -> None:
    async with serve(keepalive(reply(b"ok"))) as server:
        for _ in range(5):
            _, body = await get(transport, server.url())
            assert body == b"ok"
    assert server.connections == 1


async def test_server_connection_close_is_honoured(transport: AsyncioTransport) -> None:
    async with serve(keepalive(reply(b"ok", headers="Connection: close\r\n"))) as server:
        await get(transport, server.url())
        await get(transport, server.url())
    assert server.connections == 2


@pytest.mark.parametrize(("answer", "connections"), [
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 2),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 1),
    (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok", 2),
    # Both framings at once: chunked wins, and the connection is not trusted again.
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"2\r\nok\r\n0\r\n\r\n", 2),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", 1),
])
async def test_reuse_rules(transport: AsyncioTransport, answer: bytes, connections: int) -> None:
    async with serve(keepalive(answer)) as server:
        for _ in range(2):
            _, body = await get(transport, server.url())
            assert body == b"ok"
    assert server.connections == connections


async def test_unsolicited_bytes_on_an_idle_connection(transport: AsyncioTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      index: int) -> None:
        while await read_request(reader) is not None:
            writer.write(reply(b"ok"))
            if index == 0:
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # while we are idle

    async with serve(handler) as server:
        await get(transport, server.url())
        await asyncio.wait_for(server.eof[0].wait(), 2)  # we dropped it
        _, body = await get(transport, server.url())
    assert body == b"ok" and server.connections == 2


async def test_caller_connection_close_is_not_pooled(transport: AsyncioTransport) -> None:
    async with serve(keepalive(reply(b"ok"))) as server:
        await get(transport, server.url(), headers=[("Connection", "close")])
        await get(transport, server.url())
    assert server.connections == 2


async def test_idle_connection_closed_by_server_is_replaced(transport: AsyncioTransport) -> None:
    async with serve(once(reply(b"ok"))) as server:  # closes after one keep-alive response
        await get(transport, server.url())
        await server.eof[0].wait()
        await asyncio.sleep(0.05)
        _, body = await get(transport, server.url())
    assert body == b"ok"
    assert server.connections == 2


async def test_stale_pooled_connection_is_retried_once(transport: AsyncioTransport) -> None:
    """The server drops a kept-alive connection just as our request arrives on it."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            if index == 0 and len(server.requests) == 2:
                return  # read the request, answer nothing, close
            writer.write(reply(b"fresh" if index else b"first"))

    async with serve(handler) as server:
        _, first = await get(transport, server.url())
        _, second = await get(transport, server.url("/again"), method="POST", body=b"payload")
    assert (first, second) == (b"first", b"fresh")
    assert server.connections == 2
    assert [(r.target, r.body) for r in server.requests[1:]] == [("/again", b"payload")] * 2


async def test_fresh_connection_failure_is_not_retried(transport: AsyncioTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)

    async with serve(handler) as server:
        with pytest.raises(PBConnectionError, match="closed the connection"):
            await get(transport, server.url())
    assert server.connections == 1


async def test_early_close_is_not_pooled(transport: AsyncioTransport) -> None:
    big = b"x" * 2_000_000
    async with serve(keepalive(reply(big))) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        first = await response.aiter_bytes().__anext__()
        assert 0 < len(first) < len(big)
        await response.aclose()
        await asyncio.wait_for(server.eof[0].wait(), 2)  # the socket was closed, not pooled
        _, body = await get(transport, server.url())
    assert body == big
    assert server.connections == 2


async def test_max_connections_and_waiters() -> None:
    gate = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            await gate.wait()
            writer.write(reply(request.target.encode()))

    async with serve(handler) as server, AsyncioTransport(max_connections_per_host=2) as t:
        tasks = [asyncio.create_task(get(t, server.url(f"/{i}"))) for i in range(5)]
        await asyncio.sleep(0.2)
        assert server.connections == 2 and len(server.requests) == 2  # three are queued
        gate.set()
        results = await asyncio.gather(*tasks)
    assert [body for _, body in results] == [f"/{i}".encode() for i in range(5)]
    assert server.connections == 2


async def test_cancelled_waiter_gives_its_turn_back() -> None:
    gate = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while await read_request(reader) is not None:
            await gate.wait()
            writer.write(reply(b"ok"))

    async with serve(handler) as server, AsyncioTransport(max_connections_per_host=1) as t:
        holder = asyncio.create_task(get(t, server.url()))
        waiter = asyncio.create_task(get(t, server.url()))
        await asyncio.sleep(0.1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.set()
        await holder
        _, body = await asyncio.wait_for(get(t, server.url()), 2)
    assert body == b"ok"


async def test_dropped_unread_response_frees_its_slot() -> None:
    async with serve(keepalive(reply(b"x" * 1_000_000))) as server, \
            AsyncioTransport(max_connections_per_host=1) as t:
        response = await t.send(HTTPRequest("GET", server.url()))
        assert response.status == 200
        del response
        gc.collect()
        _, body = await asyncio.wait_for(get(t, server.url()), 3)
    assert len(body) == 1_000_000


async def test_idle_connections_expire() -> None:
    async with serve(keepalive(reply(b"ok"))) as server, \
            AsyncioTransport(keepalive_expiry=0.2) as t:
        await get(t, server.url())
        started = time.monotonic()
        await asyncio.wait_for(server.eof[0].wait(), 2)  # closed by us, with no new request
        assert time.monotonic() - started < 1.0
        await get(t, server.url())
    assert server.connections == 2


async def test_aclose_closes_pooled_connections() -> None:
    async with serve(keepalive(reply(b"ok"))) as server:
        t = AsyncioTransport()
        await get(t, server.url())
        await t.aclose()
        await asyncio.wait_for(server.eof[0].wait(), 2)
        with pytest.raises(RuntimeError, match="closed"):
            await get(t, server.url())


async def test_bound_to_the_first_event_loop(transport: AsyncioTransport) -> None:
    async with serve(keepalive(reply(b"ok"))) as server:
        await get(transport, server.url())

        def other_loop() -> None:
            asyncio.run(transport.send(HTTPRequest("GET", server.url())))

        with pytest.raises(RuntimeError, match="bound to the event loop"):
            await asyncio.to_thread(other_loop)


def test_connects_on_uvloop() -> None:
    """The gateway runs on uvloop, whose create_connection has no happy_eyeballs_delay."""
    uvloop = pytest.importorskip("uvloop")

    async def go() -> bytes:
        transport = AsyncioTransport()
        try:
            async with serve(keepalive(reply(b"ok"))) as server:
                _, body = await get(transport, server.url())
            return body
        finally:
            await transport.aclose()

    assert uvloop.run(go()) == b"ok"
