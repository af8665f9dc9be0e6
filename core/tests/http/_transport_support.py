"""Raw asyncio servers on 127.0.0.1 that send exactly the bytes a transport test wants,
plus the client helper and the byte builders the ``test_transport_*`` files share."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from plugbay.http.models import HTTPRequest, HTTPResponse, Timeout
from plugbay.http.transport import AsyncioTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


# ------------------------------------------------------------------ raw test servers

@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"duplicate header {name}: {values}"
        return values[0] if values else None


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request (Content-Length bodies only), or None once the client has closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    assert version == "HTTP/1.1"
    headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    body = await reader.readexactly(length) if length else b""
    return Request(method, target, headers, body)


@dataclass
class Server:
    port: int
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    eof: list[asyncio.Event] = field(default_factory=list)  # per connection: handler finished

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@asynccontextmanager
async def serve(handler: Handler, ssl_context: ssl.SSLContext | None = None,
                ) -> AsyncIterator[Server]:
    """Run ``handler(reader, writer, connection_index)`` for each connection to 127.0.0.1."""
    state = Server(port=0)
    tasks: set[asyncio.Task[Any]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = state.connections
        state.connections += 1
        done = asyncio.Event()
        state.eof.append(done)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError,
                asyncio.CancelledError):  # stopped by the test's end: nothing to report
            pass
        finally:
            done.set()
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_context)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def reply(body: bytes = b"", status: str = "200 OK", headers: str = "",
          length: bool = True) -> bytes:
    extra = f"Content-Length: {len(body)}\r\n" if length else ""
    return f"HTTP/1.1 {status}\r\n{headers}{extra}\r\n".encode() + body


def keepalive(answer: bytes, record: list[Request] | None = None) -> Handler:
    """Answer every request on the connection with ``answer``."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while (request := await read_request(reader)) is not None:
            if record is not None:
                record.append(request)
            writer.write(answer)
            await writer.drain()
    return handler


def once(answer: bytes, then: str = "close") -> Handler:
    """Read one request, write ``answer``, then close, stall or reset."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        if then == "stall":
            await reader.read()
        elif then == "reset":
            reset(writer)
    return handler


def reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def chunked(*parts: bytes, trailers: str = "") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
    return body + b"0\r\n" + trailers.encode() + b"\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get(transport: AsyncioTransport, url: str, *, method: str = "GET",
              body: bytes | None = None, headers: list[tuple[str, str]] | None = None,
              timeout: Timeout | None = None) -> tuple[HTTPResponse, bytes]:
    request = HTTPRequest(method, url, headers or [], body, timeout or Timeout(2.0, 2.0))
    response = await transport.send(request)
    return response, await response.aread()


# ------------------------------------------------------------------ compressed bodies

def gzip_bytes(data: bytes) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush()


DOC = json.dumps({"choices": [{"text": "token " * 2000}]}).encode()
