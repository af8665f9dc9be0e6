"""FakeServer under load: hundreds of concurrent connections, thousands of requests."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from _fakeserver_support import Raw

from plugbay.testing.server import FakeServer, RecordedRequest, Reply


@pytest.mark.timeout(20)
async def test_500_in_flight_with_some_stalled() -> None:
    async with FakeServer() as server:
        server.add("POST", "/fast", Reply.json({"ok": True}))
        server.add("POST", "/stall", Reply.stall(4.0))

        async def stalled_call() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST /stall HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
            data = await reader.read()  # to EOF: a stall sends nothing, then closes
            writer.close()
            return data

        async def fast() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(11)
            writer.close()
            return head.split(b"\r\n")[0] + body

        stalled = [asyncio.ensure_future(stalled_call()) for _ in range(150)]
        results = await asyncio.gather(*[fast() for _ in range(350)])
        assert results == [b'HTTP/1.1 200 OK{"ok":true}'] * 350
        assert not any(t.done() for t in stalled)  # still held while the fast ones finished
        assert await asyncio.gather(*stalled) == [b""] * 150
        assert server.connections == 500 and len(server.requests) == 500


@pytest.mark.timeout(30)
async def test_300_concurrent_httpx_requests() -> None:
    async with FakeServer() as server:
        arrived = 0
        gate = asyncio.Event()

        async def hold(req: RecordedRequest) -> Reply:
            # Answer nobody until all 300 are in: proves they were in flight together.
            nonlocal arrived
            arrived += 1
            if arrived == 300:
                gate.set()
            await asyncio.wait_for(gate.wait(), 20)
            return Reply.json(req.json())

        server.add("POST", "/v1/chat", hold)
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=20) as client:
            resps = await asyncio.gather(
                *[client.post("/v1/chat", json={"i": i}) for i in range(300)]
            )
        assert [r.json()["i"] for r in resps] == list(range(300))
        assert server.connections == 300 and server.errors == []


@pytest.mark.timeout(30)
def test_thousands_of_small_requests_per_second(srv: FakeServer) -> None:
    srv.add("POST", "/v1/chat", Reply.json({"id": "x", "choices": []}))
    request = b"POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"

    def worker() -> None:
        with Raw(srv) as raw:
            for _ in range(500):
                raw.sock.sendall(request)
                assert raw.response()[0] == 200

    threads = [threading.Thread(target=worker) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(srv.requests) == 2000 and srv.connections == 4
    assert 2000 / (time.monotonic() - start) > 1000  # measured ~15k/s; a slow CI keeps margin
