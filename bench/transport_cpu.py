"""CPU time per request of plugbay's AsyncioTransport against httpx, aiohttp and a raw floor.

A raw asyncio HTTP/1.1 server runs in a subprocess pinned to CPU 0; this process pins itself
to CPU 1 and measures ``time.process_time()`` (user + system CPU of the client only) for
small JSON POSTs on kept-alive connections, sequentially and with 32 concurrent tasks.

    .venv/bin/python bench/transport_cpu.py [--requests 20000]

httpx and aiohttp are measured only when importable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

BODY = b'{"id":"cmpl-1","object":"chat.completion","choices":[{"index":0,"message":' \
       b'{"role":"assistant","content":"Hello there!"},"finish_reason":"stop"}]}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + BODY
)
REQUEST_BODY = b'{"model":"m","messages":[{"role":"user","content":"Say hello"}]}'
HEADERS = [("Content-Type", "application/json"), ("Authorization", "Bearer sk-test")]
CONCURRENCY = 32


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


# ---------------------------------------------------------------- server (subprocess)

class _ServerProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in bytes(self.buf[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            assert self.transport is not None
            self.transport.write(RESPONSE)


async def _serve() -> None:
    server = await asyncio.get_running_loop().create_server(_ServerProtocol, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------- clients

Send = Callable[[], Awaitable[bytes]]


async def raw_floor(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """The floor: one asyncio.Protocol per connection, no parsing beyond Content-Length."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    loop = asyncio.get_running_loop()
    request = (b"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(REQUEST_BODY)).encode() + b"\r\n\r\n" + REQUEST_BODY)

    class Client(asyncio.Protocol):
        def __init__(self) -> None:
            self.buf = bytearray()
            self.fut: asyncio.Future[bytes] | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            self.buf += data
            if len(self.buf) >= len(RESPONSE) and self.fut is not None:
                out = bytes(self.buf[len(RESPONSE) - len(BODY):len(RESPONSE)])
                del self.buf[: len(RESPONSE)]
                self.fut.set_result(out)

    idle: list[Client] = []

    async def send() -> bytes:
        conn = idle.pop() if idle else (
            await loop.create_connection(Client, "127.0.0.1", port))[1]
        conn.fut = loop.create_future()
        conn.transport.write(request)
        out = await conn.fut
        idle.append(conn)
        return out

    async def close() -> None:
        for conn in idle:
            conn.transport.close()

    return send, close


async def plugbay_client(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    from plugbay.http.models import HTTPRequest
    from plugbay.http.transport import AsyncioTransport

    transport = AsyncioTransport(trust_env=False)

    async def send() -> bytes:
        response = await transport.send(
            HTTPRequest("POST", url, list(HEADERS), REQUEST_BODY))
        return await response.aread()

    return send, transport.aclose


async def httpx_client(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=100))

    async def send() -> bytes:
        response = await client.post(url, content=REQUEST_BODY, headers=HEADERS)
        return response.content

    return send, client.aclose


async def aiohttp_client(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import aiohttp  # type: ignore[import-not-found,unused-ignore]

    session = aiohttp.ClientSession(trust_env=False)

    async def send() -> bytes:
        async with session.post(url, data=REQUEST_BODY, headers=HEADERS) as response:
            data: bytes = await response.read()
            return data

    return send, session.close


async def measure(make: Callable[[str], Awaitable[tuple[Send, Callable[[], Awaitable[None]]]]],
                  url: str, n: int, rounds: int) -> tuple[float, float]:
    """Best of ``rounds`` CPU seconds per request, sequential and concurrent."""
    send, close = await make(url)

    async def worker(count: int) -> None:
        for _ in range(count):
            await send()

    sequential, concurrent = [], []
    try:
        for _ in range(500):  # warm up: connections, caches, lazy imports
            assert await send() == BODY
        await asyncio.gather(*(send() for _ in range(CONCURRENCY * 4)))
        per_worker = max(n // CONCURRENCY, 1)
        for _ in range(rounds):
            start = time.process_time()
            await worker(n)
            sequential.append((time.process_time() - start) / n)
            start = time.process_time()
            await asyncio.gather(*(worker(per_worker) for _ in range(CONCURRENCY)))
            concurrent.append((time.process_time() - start) / (per_worker * CONCURRENCY))
        return min(sequential), min(concurrent)
    finally:
        await close()


def import_ms(module: str, before: str = "pass") -> float:
    """Best-of-5 wall time of ``import module`` in a fresh interpreter, bytecode cached."""
    code = (f"{before}; import time; t = time.perf_counter(); import {module}; "
            "print((time.perf_counter() - t) * 1000)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as cache:  # measure with .pyc files, as installed
        env["PYTHONPYCACHEPREFIX"] = cache
        runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True, env=env))
                for _ in range(6)]
    return min(runs[1:])


CLIENTS: list[tuple[str, str | None, Callable[[str], Awaitable[tuple[Send, Any]]]]] = [
    ("raw asyncio floor", None, raw_floor),
    ("plugbay AsyncioTransport", "plugbay.http.transport", plugbay_client),
    ("httpx", "httpx", httpx_client),
    ("aiohttp", "aiohttp", aiohttp_client),
]


async def measure_all(url: str, n: int, rounds: int) -> dict[str, tuple[float, float] | None]:
    results: dict[str, tuple[float, float] | None] = {}
    for name, module, make in CLIENTS:
        try:
            if module is not None:
                __import__(module)
        except ImportError:
            results[name] = None
            continue
        results[name] = await measure(make, url, n, rounds)
    return results


def main(n: int, rounds: int) -> None:
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1/chat"
        results = asyncio.run(measure_all(url, n, rounds))
    finally:
        server.terminate()
        server.wait()
    print(f"CPU time per request (time.process_time), best of {rounds} x {n} small JSON POSTs "
          f"on kept-alive connections; server on CPU 0, client on CPU 1; "
          f"Python {sys.version.split()[0]}")
    print("import ms: fresh interpreter with .pyc cached; in parentheses: after asyncio")
    print(f"{'client':<26} {'import ms':>16} {'sequential us/req':>18} "
          f"{f'{CONCURRENCY}-concurrent us/req':>22}")
    for name, module, _ in CLIENTS:
        result = results[name]
        if result is None:
            print(f"{name:<26} {'not installed: skipped':>16}")
            continue
        shown = "-" if module is None else (
            f"{import_ms(module):.1f} ({import_ms(module, 'import asyncio'):.1f})")
        print(f"{name:<26} {shown:>16} {result[0] * 1e6:18.1f} {result[1] * 1e6:22.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        pin(0)
        asyncio.run(_serve())
    else:
        pin(1)
        main(args.requests, args.rounds)
