"""A fake OpenAI-compatible upstream for benchmarks and tests (stdlib only).

A raw ``asyncio.Protocol`` HTTP/1.1 server with keep-alive and pipelining:

* ``POST .../chat/completions``: a realistic ``chat.completion`` JSON body, or, when the
  request body says ``"stream": true``, an SSE stream (chunked transfer encoding) of a role
  chunk, N content chunks, a finish chunk, a usage chunk and ``data: [DONE]``. N comes from
  the ``x-bench-chunks`` header, the ``chunks`` query parameter or a ``/chunks/N/`` path
  prefix (default 20).
* ``GET .../models``: a model list. ``GET /bench/stats``: requests served, connections accepted
  and CPU seconds.

Every response is precomputed bytes, so the server spends its time on parsing and writing
only. Use it from code with ``await start()`` or ``with serve_in_thread() as up: up.url``;
or run it: ``python bench/upstream.py --port 0 --cpu 0 --port-file PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["DEFAULT_CHUNKS", "Upstream", "completion_json", "serve_in_thread", "start"]

DEFAULT_CHUNKS = 20
MAX_CHUNKS = 100_000
MODEL = "gpt-4o-mini-2024-07-18"
_ID = "chatcmpl-Bench0000000000000000000000000"
_CREATED = 1_750_000_000
_FINGERPRINT = "fp_bench00001"
_TEXT = (
    "Hello! The quick brown fox jumps over the lazy dog while a benchmark measures every "
    "microsecond spent between the request and the response. Nothing here is generated: the "
    "same bytes go out every time, so the client is the only thing being measured."
)
_WORDS = _TEXT.split(" ")
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_MAX_HEAD = 64 * 1024


def _usage(completion_tokens: int) -> dict[str, object]:
    return {
        "prompt_tokens": 9,
        "completion_tokens": completion_tokens,
        "total_tokens": 9 + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_json() -> dict[str, object]:
    """The non-streaming chat.completion document the server returns."""
    message: dict[str, object] = {"role": "assistant", "content": _TEXT}
    message.update(refusal=None, annotations=[])
    return {
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(len(_WORDS)),
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }


def _chunk(delta: dict[str, object], finish: str | None) -> dict[str, object]:
    return {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": MODEL,
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def _sse_events(n: int) -> list[bytes]:
    role: dict[str, object] = {"role": "assistant", "content": "", "refusal": None}
    docs: list[dict[str, object]] = [_chunk(role, None)]
    for i in range(n):
        word = _WORDS[i % len(_WORDS)]
        docs.append(_chunk({"content": word if i == 0 else " " + word}, None))
    docs.append(_chunk({}, "stop"))
    usage = _chunk({}, None)
    usage["choices"] = []
    usage["usage"] = _usage(n)
    docs.append(usage)
    out = [b"data: " + json.dumps(d, separators=(",", ":")).encode() + b"\n\n" for d in docs]
    out.append(b"data: [DONE]\n\n")
    return out


def _head(status: str, ctype: str, extra: str) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\n{extra}"
        "x-request-id: req_bench\r\nopenai-processing-ms: 1\r\n\r\n"
    ).encode()


def _json_response(doc: object, status: str = "200 OK") -> bytes:
    body = json.dumps(doc, separators=(",", ":")).encode()
    return _head(status, "application/json", f"content-length: {len(body)}\r\n") + body


_COMPLETION = _json_response(completion_json())
_MODELS = _json_response(
    {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "system"}
            for m in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini")
        ],
    }
)
_NOT_FOUND = _json_response(
    {"error": {"message": "not found", "type": "invalid_request_error"}}, "404 Not Found"
)
_BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_streams: dict[int, tuple[bytes, bytes]] = {}


def _stream_response(n: int) -> tuple[bytes, bytes]:
    """The stream as (headers + role chunk + first content chunk, everything after)."""
    cached = _streams.get(n)
    if cached is None:
        head = _head(
            "200 OK",
            "text/event-stream; charset=utf-8",
            "transfer-encoding: chunked\r\ncache-control: no-cache\r\n",
        )
        framed = [b"%x\r\n%s\r\n" % (len(ev), ev) for ev in _sse_events(n)]
        cached = (head + b"".join(framed[:2]), b"".join(framed[2:]) + b"0\r\n\r\n")
        if len(_streams) > 64:
            _streams.clear()
        _streams[n] = cached
    return cached


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked request body starting at ``pos``; None while incomplete."""
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        start = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # trailers, usually none
            if end < 0:
                return None
            return b"".join(parts), end + 4
        if len(buf) < start + size + 2:
            return None
        parts.append(buf[start : start + size])
        pos = start + size + 2


class Stats:
    __slots__ = ("connections", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0


class _Protocol(asyncio.Protocol):
    __slots__ = ("_buf", "_stats", "_transport")

    def __init__(self, stats: Stats) -> None:
        self._buf = b""
        self._stats = stats
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        # A stream goes out in two writes: its first text chunk now, the rest (and any
        # pipelined response after it) on the next loop turn, so that a client's time to
        # first chunk is not the time to read the whole stream.
        later: list[bytes] = []
        close = False
        while not close:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    (later or out).append(_BAD)
                    close = True
                break
            try:
                parsed = self._parse(buf, end)
            except ValueError:
                (later or out).append(_BAD)
                close = True
                break
            if parsed is None:
                break  # body incomplete
            response, close, buf = parsed
            if isinstance(response, tuple):
                if later:
                    later += response
                else:
                    out.append(response[0])
                    later.append(response[1])
            else:
                (later or out).append(response)
        self._buf = b"" if close else buf
        if out:
            self._write(out, close and not later)
        if later:
            asyncio.get_running_loop().call_soon(self._write, later, close)

    def _write(self, parts: list[bytes], close: bool) -> None:
        transport = self._transport
        if transport is not None:
            transport.writelines(parts)
            if close:
                transport.close()

    def _parse(
        self, buf: bytes, end: int
    ) -> tuple[bytes | tuple[bytes, bytes], bool, bytes] | None:
        lines = buf[:end].split(b"\r\n")
        method, target, version = lines[0].split(b" ", 2)
        length = 0
        close = version == b"HTTP/1.0"
        chunked = False
        chunks_header: bytes | None = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"x-bench-chunks":
                chunks_header = value.strip()
            elif name == b"connection":
                v = value.strip().lower()
                close = v == b"close" or (close and v != b"keep-alive")
        if chunked:
            got = _dechunk(buf, end + 4)
            if got is None:
                return None
            body, nxt = got
        else:
            nxt = end + 4 + length
            if len(buf) < nxt:
                return None
            body = buf[end + 4 : nxt]
        self._stats.requests += 1
        path, _, query = target.partition(b"?")
        response: bytes | tuple[bytes, bytes]
        if method == b"POST" and path.endswith(b"/chat/completions"):
            if _STREAM_RE.search(body):
                response = _stream_response(_chunks(chunks_header, query, path))
            else:
                response = _COMPLETION
        elif method == b"GET" and path.endswith(b"/models"):
            response = _MODELS
        elif method == b"GET" and path == b"/bench/stats":
            stats = {
                "requests": self._stats.requests,
                "connections": self._stats.connections,
                "cpu_s": time.process_time(),
            }
            response = _json_response(stats)
        else:
            response = _NOT_FOUND
        return response, close, buf[nxt:]


def _chunks(header: bytes | None, query: bytes, path: bytes) -> int:
    """N from the header, else the ``chunks`` query parameter, else a ``/chunks/N/`` path
    prefix (handy for SDKs that only take a base URL), else the default."""
    raw = header
    if raw is None and query:
        for pair in query.split(b"&"):
            key, _, value = pair.partition(b"=")
            if key == b"chunks":
                raw = value
    if raw is None and b"/chunks/" in path:
        raw = path.split(b"/chunks/", 1)[1].split(b"/", 1)[0]
    if raw is None:
        return DEFAULT_CHUNKS
    return max(0, min(MAX_CHUNKS, int(raw)))


@dataclass
class Upstream:
    """A running upstream; ``url`` has no trailing slash (append ``/v1``)."""

    server: asyncio.Server
    host: str
    port: int
    stats: Stats

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start(host: str = "127.0.0.1", port: int = 0) -> Upstream:
    """Start serving on the running loop; port 0 picks a free port."""
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(stats), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    return Upstream(server, host, int(bound), stats)


@contextmanager
def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> Iterator[Upstream]:
    """Run an upstream on its own loop in a daemon thread, e.g. for synchronous tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bench-upstream", daemon=True)
    thread.start()
    up = asyncio.run_coroutine_threadsafe(start(host, port), loop).result(10)
    try:
        yield up
    finally:
        asyncio.run_coroutine_threadsafe(up.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _write_port(path: str, port: int) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(path + ".tmp", path)


async def _serve(args: argparse.Namespace) -> None:
    up = await start(args.host, args.port)
    if args.port_file:
        _write_port(args.port_file, up.port)
    print(f"listening {up.url}", flush=True)
    await up.server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    p.add_argument("--port-file", default=None, help="write the bound port here")
    args = p.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {args.cpu})
        except OSError as exc:
            print(f"cannot pin to CPU {args.cpu}: {exc}", file=sys.stderr)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
