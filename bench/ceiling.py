"""The upstream's own ceiling, measured with the cheapest client possible.

A raw asyncio client opens ``--conns`` keep-alive connections and keeps ``--depth`` requests
pipelined on each. Every response of one kind is the same bytes, so after learning its size
from one request the client only counts bytes: nearly all CPU left goes to the server.
Prints one JSON line: requests/s for a non-streaming completion (pipelined, and with 64
connections one request deep) and for a stream of ``--chunks`` chunks (stdlib only; run
pinned to the client CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit

_BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
_STREAM_BODY = _BODY[:-1] + b',"stream":true}'


def _request(host: str, port: int, body: bytes, chunks: int) -> bytes:
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}:{port}\r\n"
        f"authorization: Bearer sk-bench\r\ncontent-type: application/json\r\n"
        f"x-bench-chunks: {chunks}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


def _response_size(host: str, port: int, request: bytes) -> int:
    """Send one request and return the exact size of its response."""
    with socket.create_connection((host, port)) as s:
        s.sendall(request)
        buf = b""
        while True:
            data = s.recv(1 << 16)
            if not data:
                raise RuntimeError("upstream closed the connection")
            buf += data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = buf[:end].lower()
            if b"transfer-encoding: chunked" in head:
                if buf.endswith(b"\r\n0\r\n\r\n"):
                    return len(buf)
                continue
            length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            if len(buf) >= end + 4 + length:
                return end + 4 + length


class _Pipe(asyncio.Protocol):
    def __init__(self, request: bytes, depth: int, size: int, counter: list[int]) -> None:
        self.request, self.depth, self.size, self.counter = request, depth, size, counter
        self.pending = 0
        self.running = True
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request * self.depth)

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)
        done, self.pending = divmod(self.pending, self.size)
        if done:
            self.counter[0] += done
            if self.running and self.transport is not None:
                self.transport.write(self.request * done)


async def _measure(
    host: str, port: int, request: bytes, conns: int, depth: int, seconds: float
) -> float:
    size = _response_size(host, port, request)
    counter = [0]
    loop = asyncio.get_running_loop()
    pipes: list[_Pipe] = []
    for _ in range(conns):
        _, proto = await loop.create_connection(
            lambda: _Pipe(request, depth, size, counter), host, port
        )
        pipes.append(proto)
    await asyncio.sleep(min(0.5, seconds / 4))  # warm up
    start_count, t0 = counter[0], time.perf_counter()
    await asyncio.sleep(seconds)
    rate = (counter[0] - start_count) / (time.perf_counter() - t0)
    for p in pipes:
        p.running = False
        if p.transport is not None:
            p.transport.close()
    return rate


async def measure(
    url: str, conns: int = 16, depth: int = 16, seconds: float = 2.0, chunks: int = 200
) -> dict[str, float]:
    """Requests/s the upstream at ``url`` sustains: pipelined, then 64 keep-alive connections
    with one request in flight each (the shape of a 64-way async client), then streams."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    plain = _request(host, port, _BODY, chunks)
    pipelined = await _measure(host, port, plain, conns, depth, seconds)
    keepalive = await _measure(host, port, plain, 64, 1, seconds)
    stream = await _measure(
        host, port, _request(host, port, _STREAM_BODY, chunks), conns, max(1, depth // 4), seconds
    )
    return {
        "raw_rps": pipelined,
        "raw_keepalive64_rps": keepalive,
        "raw_stream_rps": stream,
        "stream_chunks": chunks,
        "conns": conns,
        "depth": depth,
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Measure the bench upstream's ceiling.")
    p.add_argument("--url", required=True)
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--depth", type=int, default=16)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--chunks", type=int, default=200)
    p.add_argument("--cpu", type=int, default=None)
    a = p.parse_args()
    if a.cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {a.cpu})
        except OSError as exc:
            print(f"cannot pin to CPU {a.cpu}: {exc}", file=sys.stderr)
    result = asyncio.run(measure(a.url, a.conns, a.depth, a.seconds, a.chunks))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
