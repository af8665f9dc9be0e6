"""AsyncioTransport streaming: incremental delivery, big uploads and back pressure."""

from __future__ import annotations

import asyncio
import zlib

import pytest
from _transport_support import (
    DOC,
    Request,
    chunked,
    get,
    gzip_bytes,
    keepalive,
    read_request,
    reply,
    serve,
)

from plugbay.http.models import HTTPRequest
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)


async def test_gzip_split_across_many_small_chunks(transport: AsyncioTransport) -> None:
    encoded = gzip_bytes(DOC)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(encoded), 7):
            writer.write(b"%x\r\n%s\r\n" % (len(encoded[i:i + 7]), encoded[i:i + 7]))
            await writer.drain()
            if i % 70 == 0:
                await asyncio.sleep(0.001)  # let some of them arrive as separate reads
        writer.write(b"0\r\n\r\n")
        await reader.read()

    async with serve(handler) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        pieces = [piece async for piece in response.aiter_bytes()]
    assert b"".join(pieces) == DOC
    assert len(pieces) > 1  # decoded incrementally, not buffered to the end


async def test_large_upload() -> None:
    seen: list[Request] = []
    payload = bytes(range(256)) * 8192  # 2 MiB, written separately from the head
    async with serve(keepalive(reply(b"got it"), seen)) as server, AsyncioTransport() as t:
        _, body = await get(t, server.url(), method="PUT", body=payload)
    assert body == b"got it" and seen[0].body == payload


async def test_back_pressure_pauses_reading() -> None:
    big = b"y" * 32_000_000
    async with serve(keepalive(reply(big))) as server, AsyncioTransport() as t:
        response = await t.send(HTTPRequest("GET", server.url()))
        conn = response._stream._conn  # type: ignore[union-attr]
        chunks = response.aiter_bytes()
        await chunks.__anext__()
        await asyncio.sleep(0.3)  # a slow consumer: we must stop reading, not buffer 32 MB
        assert conn.paused and len(conn.buf) < 1_000_000
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            assert len(conn.buf) < 1_000_000
    assert total > 30_000_000


async def test_first_chunk_arrives_before_the_rest_is_sent(transport: AsyncioTransport) -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"8\r\ndata: 1\n\r\n")  # no newline pair: nothing to wait for
        await writer.drain()
        await release.wait()
        writer.write(chunked(b"data: 2\n"))

    async with serve(handler) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        chunks = response.aiter_bytes()
        first = await asyncio.wait_for(chunks.__anext__(), 2)
        release.set()
        rest = [chunk async for chunk in chunks]
    assert first == b"data: 1\n"
    assert b"".join(rest) == b"data: 2\n"


async def test_first_gzip_bytes_arrive_before_the_rest(transport: AsyncioTransport) -> None:
    release = asyncio.Event()
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    part1 = z.compress(b"event one\n") + z.flush(zlib.Z_SYNC_FLUSH)
    part2 = z.compress(b"event two\n") + z.flush()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % (len(part1) + len(part2)) + part1)
        await release.wait()
        writer.write(part2)
        await reader.read()

    async with serve(handler) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        chunks = response.aiter_bytes()
        first = await asyncio.wait_for(chunks.__anext__(), 2)
        release.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert (first, rest) == (b"event one\n", b"event two\n")
