"""AsyncioTransport failures: refused and slow connects, read timeouts, resets, cancels."""

from __future__ import annotations

import asyncio
import time

import pytest
from _transport_support import free_port, get, once, read_request, reply, serve

from plugbay.errors import ConnectionError as PBConnectionError
from plugbay.errors import TimeoutError as PBTimeoutError
from plugbay.http.models import HTTPRequest, Timeout
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)


async def test_connect_refused(transport: AsyncioTransport) -> None:
    with pytest.raises(PBConnectionError, match="cannot connect"):
        await get(transport, f"http://127.0.0.1:{free_port()}/")


async def test_dns_failure(transport: AsyncioTransport) -> None:
    with pytest.raises(PBConnectionError, match="cannot connect"):
        await get(transport, "http://no-such-host.invalid/")


@pytest.mark.usefixtures("fake_dns")
async def test_connect_timeout(transport: AsyncioTransport) -> None:
    started = time.monotonic()
    with pytest.raises(PBTimeoutError, match="connect timeout"):
        await get(transport, "http://slow.test/", timeout=Timeout(connect=0.3, read=5))
    assert 0.3 <= time.monotonic() - started < 0.8
    assert transport._pools[("http", "slow.test", 80)].total == 0  # the slot was given back


@pytest.mark.parametrize("partial", [b"", b"HTTP/1.1 200 OK\r\nX-Partial: 1\r\n"])
async def test_stall_before_headers_times_out(transport: AsyncioTransport,
                                              partial: bytes) -> None:
    async with serve(once(partial, then="stall")) as server:
        started = time.monotonic()
        with pytest.raises(PBTimeoutError, match="read timeout"):
            await get(transport, server.url(), timeout=Timeout(connect=2, read=0.3))
        assert 0.3 <= time.monotonic() - started < 0.8
        await asyncio.wait_for(server.eof[0].wait(), 2)  # and the connection was closed


async def test_stall_mid_body_times_out(transport: AsyncioTransport) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf!"
    async with serve(once(answer, then="stall")) as server:
        response = await transport.send(
            HTTPRequest("GET", server.url(), timeout=Timeout(connect=2, read=0.3)))
        started = time.monotonic()
        with pytest.raises(PBTimeoutError, match="read timeout"):
            await response.aread()
        assert 0.3 <= time.monotonic() - started < 0.8


async def test_read_timeout_is_the_gap_between_reads(transport: AsyncioTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for _ in range(8):  # 1.2 s in total, never 0.3 s without a byte
            await asyncio.sleep(0.15)
            writer.write(b".")

    async with serve(handler) as server:
        _, body = await get(transport, server.url(), timeout=Timeout(connect=2, read=0.4))
    assert body == b"........"


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly fifty bytes" + b"." * 34,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhel",
])
async def test_truncated_body_raises(transport: AsyncioTransport, answer: bytes) -> None:
    async with serve(once(answer)) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        with pytest.raises(PBConnectionError, match="before the response body was complete"):
            await response.aread()


async def test_eof_before_headers_raises(transport: AsyncioTransport) -> None:
    async with serve(once(b"HTTP/1.1 200 OK\r\nContent-")) as server:
        with pytest.raises(PBConnectionError, match="before the response headers"):
            await get(transport, server.url())


@pytest.mark.parametrize("answer", [
    b"",
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab",
    b"HTTP/1.1 200 OK\r\n\r\nread until close, but reset",  # a reset is not a clean end
])
async def test_reset_raises_connection_error(transport: AsyncioTransport,
                                             answer: bytes) -> None:
    async with serve(once(answer, then="reset")) as server:
        with pytest.raises(PBConnectionError, match=r"failed|closed"):
            response = await transport.send(HTTPRequest("GET", server.url()))
            await asyncio.sleep(0.1)  # let the reset arrive before the body is read
            await response.aread()


async def test_cancel_while_reading_body_closes_the_socket(transport: AsyncioTransport) -> None:
    got_first = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      index: int) -> None:
        await read_request(reader)
        if index:
            writer.write(reply(b"second connection"))
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part")
        await reader.read()  # stall until the client closes

    async def consume() -> None:
        response = await transport.send(HTTPRequest("GET", server.url()))
        async for _ in response.aiter_bytes():
            got_first.set()

    async with serve(handler) as server:
        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_first.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.eof[0].wait(), 1)  # the server saw the socket close
        _, body = await get(transport, server.url())  # and the pool slot was freed
    assert server.connections == 2 and body == b"second connection"


async def test_cancel_while_waiting_for_headers_closes_the_socket() -> None:
    async with serve(once(b"", then="stall")) as server, \
            AsyncioTransport(max_connections_per_host=1) as t:
        task = asyncio.create_task(get(t, server.url()))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.eof[0].wait(), 1)
        assert t._pools[("http", "127.0.0.1", server.port)].total == 0
