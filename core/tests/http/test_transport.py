"""AsyncioTransport against raw asyncio servers on 127.0.0.1 that send exactly the bytes we want."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import socket
import ssl
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme

from plugbay import __version__
from plugbay.errors import ConnectionError as PBConnectionError
from plugbay.errors import TimeoutError as PBTimeoutError
from plugbay.http import _h11
from plugbay.http.models import HTTPRequest, HTTPResponse, Timeout, Transport
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)

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


@pytest.fixture
async def transport() -> AsyncIterator[AsyncioTransport]:
    t = AsyncioTransport()
    yield t
    await t.aclose()


@pytest.fixture(autouse=True)
def no_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``*.test`` to 127.0.0.1 on the running loop; ``slow.test`` never resolves."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow.test":
            await asyncio.sleep(60)
        if isinstance(host, str) and host.endswith(".test"):
            host = "127.0.0.1"
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


# ------------------------------------------------------------------ framing and headers

def test_implements_the_transport_protocol() -> None:
    assert isinstance(AsyncioTransport(), Transport)


async def test_content_length_json_and_request_head(transport: AsyncioTransport) -> None:
    seen: list[Request] = []
    payload = json.dumps({"ok": True, "text": "héllo"}).encode()
    answer = reply(payload, headers="Content-Type: application/json\r\nX-Id: 7\r\n")
    async with serve(keepalive(answer, seen)) as server:
        response, body = await get(transport, server.url("/v1/chat?x=1"), method="POST",
                                   body=b'{"q":1}', headers=[("Content-Type", "application/json")])
    assert (response.status, response.reason) == (200, "OK")
    assert response.headers["x-id"] == "7"
    assert json.loads(body) == {"ok": True, "text": "héllo"}
    (request,) = seen
    assert (request.method, request.target, request.body) == ("POST", "/v1/chat?x=1", b'{"q":1}')
    assert request.header("Host") == f"127.0.0.1:{server.port}"
    assert request.header("User-Agent") == f"plugbay/{__version__}"
    assert request.header("Accept-Encoding") == "gzip, deflate"
    assert request.header("Connection") == "keep-alive"
    assert request.header("Content-Length") == "7"
    assert request.header("Content-Type") == "application/json"


async def test_caller_headers_override_defaults_case_insensitively() -> None:
    seen: list[Request] = []
    async with serve(keepalive(reply(b"x"), seen)) as server, \
            AsyncioTransport(user_agent="custom/1") as t:
        await get(t, server.url(), method="POST")
        await get(t, server.url(), headers=[("user-agent", "mine/2"), ("HOST", "example.org"),
                                            ("accept-encoding", "identity")])
    first, second = seen
    assert first.header("User-Agent") == "custom/1"
    assert first.header("Content-Length") == "0"  # POST without a body still frames it
    assert second.header("user-agent") == "mine/2"
    assert second.header("host") == "example.org"
    assert second.header("accept-encoding") == "identity"
    assert second.header("connection") == "keep-alive"
    assert second.header("content-length") is None  # GET without a body


async def test_header_injection_is_refused(transport: AsyncioTransport) -> None:
    with pytest.raises(ValueError, match="CR"):
        await transport.send(HTTPRequest("GET", "http://127.0.0.1:9/",
                                         [("X-A", "1\r\nX-Injected: yes")]))


async def test_chunked_with_trailers_then_reuse(transport: AsyncioTransport) -> None:
    body = chunked(b"hello ", b"chunked ", b"world", trailers="X-Checksum: abc\r\nX-More: 1\r\n")
    answer = reply(body, headers="Transfer-Encoding: chunked\r\n", length=False)
    async with serve(keepalive(answer)) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        stream = response._stream
        assert await response.aread() == b"hello chunked world"
        assert stream.trailers == [("X-Checksum", "abc"), ("X-More", "1")]  # type: ignore[union-attr]
        _, again = await get(transport, server.url())
    assert again == b"hello chunked world"
    assert server.connections == 1  # the trailers were consumed: the connection was reusable


async def test_read_until_close(transport: AsyncioTransport) -> None:
    async with serve(once(b"HTTP/1.1 200 OK\r\n\r\nall of this until EOF")) as server:
        _, body = await get(transport, server.url())
        _, body2 = await get(transport, server.url())
    assert body == body2 == b"all of this until EOF"
    assert server.connections == 2


async def test_head_204_304_have_no_body_and_keep_the_connection(
        transport: AsyncioTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while (request := await read_request(reader)) is not None:
            if request.method == "HEAD":  # claims a length but sends no body, as it must
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
            elif request.target == "/204":
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif request.target == "/304":
                writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
            else:
                writer.write(reply(b"body"))

    async with serve(handler) as server:
        head, head_body = await get(transport, server.url(), method="HEAD")
        no_content, b204 = await get(transport, server.url("/204"))
        _, b304 = await get(transport, server.url("/304"))
        _, body = await get(transport, server.url())
    assert (head.status, head.headers["content-length"], head_body) == (200, "50", b"")
    assert (no_content.status, b204, b304, body) == (204, b"", b"", b"body")
    assert server.connections == 1


async def test_informational_responses_are_skipped(transport: AsyncioTransport) -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    async with serve(keepalive(answer + reply(b"final", status="201 Created"))) as server:
        response, body = await get(transport, server.url(), method="POST", body=b"x")
    assert (response.status, body) == (201, b"final")


@pytest.mark.parametrize("head", [
    b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded: continuation\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-A : spaced name\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"HTTP/1.1 200 OK\r\nX-A: bare\nlf\r\n\r\n",
])
async def test_malformed_response_heads_raise_connection_error(
        transport: AsyncioTransport, head: bytes) -> None:
    async with serve(once(head, then="stall")) as server:
        with pytest.raises(PBConnectionError, match="malformed"):
            await get(transport, server.url())


async def test_malformed_chunk_size_raises(transport: AsyncioTransport) -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"
    async with serve(once(answer, then="stall")) as server:
        with pytest.raises(PBConnectionError, match="chunk size"):
            await get(transport, server.url())


# ------------------------------------------------------------------ content encoding

def gzip_bytes(data: bytes) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush()


DOC = json.dumps({"choices": [{"text": "token " * 2000}]}).encode()


@pytest.mark.parametrize(("coding", "encoded"), [
    ("gzip", gzip_bytes(DOC)),
    ("x-gzip", gzip_bytes(DOC)),
    ("deflate", zlib.compress(DOC)),  # zlib-wrapped, as the RFC says
    ("deflate", raw_deflate(DOC)),  # what some servers send instead
])
async def test_gzip_and_deflate_are_decoded(transport: AsyncioTransport, coding: str,
                                            encoded: bytes) -> None:
    answer = reply(encoded, headers=f"Content-Encoding: {coding}\r\n")
    async with serve(keepalive(answer)) as server:
        _, body = await get(transport, server.url())
    assert body == DOC
    assert len(encoded) < len(DOC) // 10


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


def test_framer_and_decoder_byte_by_byte() -> None:
    encoded = gzip_bytes(DOC)
    wire = chunked(encoded[:100], encoded[100:101], encoded[101:], trailers="T: 1\r\n")
    framer, decoder, out = _h11.Framer(_h11.CHUNKED), _h11.Decoder("gzip"), []
    buf = bytearray()
    for byte in wire:
        buf.append(byte)
        out.append(decoder.feed(framer.take(buf)))
    assert framer.done and not buf and framer.trailers == [("T", "1")]
    assert b"".join(out) + decoder.finish() == DOC


@pytest.mark.parametrize(("coding", "body", "message"), [
    ("gzip", b"this is plain text, not gzip at all", "invalid gzip body"),
    ("gzip", gzip_bytes(DOC)[:-20], "invalid gzip body: truncated"),
    ("deflate", b"\x00\x01garbage that is not deflate", "invalid deflate body"),
])
async def test_invalid_compressed_body_raises(transport: AsyncioTransport, coding: str,
                                              body: bytes, message: str) -> None:
    async with serve(keepalive(reply(body, headers=f"Content-Encoding: {coding}\r\n"))) as server:
        with pytest.raises(PBConnectionError, match=message):
            await get(transport, server.url())


async def test_invalid_gzip_in_a_streamed_body_raises(transport: AsyncioTransport) -> None:
    answer = reply(chunked(b"not gzip", b" at all"), length=False,
                   headers="Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n")
    async with serve(once(answer, then="stall")) as server:
        response = await transport.send(HTTPRequest("GET", server.url()))
        with pytest.raises(PBConnectionError, match="invalid gzip body"):
            await response.aread()


async def test_unknown_encoding_passes_through(transport: AsyncioTransport) -> None:
    async with serve(keepalive(reply(b"\x8b\x00br", headers="Content-Encoding: br\r\n"))) as s:
        _, body = await get(transport, s.url())
    assert body == b"\x8b\x00br"


# ------------------------------------------------------------------ pooling

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


# ------------------------------------------------------------------ errors and timeouts

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


# ------------------------------------------------------------------ TLS

@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA, seen_sni: list[str | None] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "upstream.test").configure_cert(ctx)
    if seen_sni is not None:
        def record(_sock: Any, name: str | None, _ctx: Any) -> None:
            seen_sni.append(name)

        ctx.sni_callback = record
    return ctx


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def test_https_with_trusted_ca(ca: trustme.CA) -> None:
    sni: list[str | None] = []
    async with serve(keepalive(reply(b"secure")), server_tls(ca, sni)) as server, \
            AsyncioTransport(ssl_context=client_tls(ca)) as t:
        _, body = await get(t, server.url(scheme="https", host="localhost"))
        _, again = await get(t, server.url(scheme="https", host="localhost"))
    assert body == again == b"secure"
    assert sni == ["localhost"] and server.connections == 1


async def test_https_untrusted_certificate_is_refused(ca: trustme.CA) -> None:
    async with serve(keepalive(reply(b"secure")), server_tls(ca)) as server, \
            AsyncioTransport() as t:
        with pytest.raises(PBConnectionError, match=r"(?i)certificate"):
            await get(t, server.url(scheme="https", host="localhost"))


async def test_https_verify_false(ca: trustme.CA) -> None:
    async with serve(keepalive(reply(b"unverified")), server_tls(ca)) as server, \
            AsyncioTransport(verify=False) as t:
        _, body = await get(t, server.url(scheme="https"))
    assert body == b"unverified"


# ------------------------------------------------------------------ proxies

async def test_http_proxy_absolute_form_with_basic_auth(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Request] = []
    async with serve(keepalive(reply(b"via proxy"), seen)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        async with AsyncioTransport() as t:
            _, body = await get(t, "http://upstream.test:8080/v1/x?y=1")
            await get(t, "http://upstream.test:8080/v1/z")
    assert body == b"via proxy"
    assert [r.target for r in seen] == ["http://upstream.test:8080/v1/x?y=1",
                                        "http://upstream.test:8080/v1/z"]
    assert seen[0].header("Host") == "upstream.test:8080"
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert seen[0].header("Proxy-Authorization") == expected
    assert proxy.connections == 1


async def test_https_through_connect_tunnel(monkeypatch: pytest.MonkeyPatch,
                                            ca: trustme.CA) -> None:
    connects: list[Request] = []

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        request = await read_request(reader)
        assert request is not None
        connects.append(request)
        host, _sep, port = request.target.rpartition(":")
        assert host == "upstream.test"
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)

    origin_seen: list[Request] = []
    async with serve(keepalive(reply(b"tunnelled"), origin_seen), server_tls(ca)) as origin, \
            serve(tunnel) as proxy:
        monkeypatch.setenv("https_proxy", f"http://u:pw@127.0.0.1:{proxy.port}")
        async with AsyncioTransport(ssl_context=client_tls(ca)) as t:
            _, body = await get(t, origin.url("/secret", scheme="https", host="upstream.test"))
            _, again = await get(t, origin.url("/again", scheme="https", host="upstream.test"))
    assert body == again == b"tunnelled"
    assert len(connects) == 1 and connects[0].method == "CONNECT"
    assert connects[0].header("Proxy-Authorization") == "Basic " + base64.b64encode(
        b"u:pw").decode()
    assert [r.target for r in origin_seen] == ["/secret", "/again"]  # origin-form inside
    assert origin_seen[0].header("Host") == f"upstream.test:{origin.port}"


async def test_proxy_refusing_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = reply(b"no", status="407 Proxy Authentication Required")
    async with serve(once(answer)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        async with AsyncioTransport() as t:
            with pytest.raises(PBConnectionError, match="407"):
                await get(t, "https://upstream.test/")


@pytest.mark.usefixtures("fake_dns")
async def test_no_proxy_and_loopback_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(keepalive(reply(b"proxy"))) as proxy, \
            serve(keepalive(reply(b"direct"))) as origin:
        monkeypatch.setenv("http_proxy", f"127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "example.com, .upstream.test")
        async with AsyncioTransport() as t:
            _, named = await get(t, origin.url(host="api.upstream.test"))
            _, loopback = await get(t, origin.url())
            _, proxied = await get(t, origin.url(host="other.test"))
        async with AsyncioTransport(trust_env=False) as t:
            _, ignored = await get(t, origin.url(host="other.test"))
    assert (named, loopback, proxied, ignored) == (b"direct", b"direct", b"proxy", b"direct")
    assert proxy.connections == 1


@pytest.mark.parametrize(("host", "port", "no_proxy", "bypass"), [
    ("api.example.com", 443, "", False),
    ("api.example.com", 443, "*", True),
    ("api.example.com", 443, "example.com", True),
    ("api.example.com", 443, ".example.com", True),
    ("api.example.com", 443, "*.example.com", True),
    ("example.com", 443, ".example.com", True),
    ("badexample.com", 443, "example.com", False),
    ("api.example.com", 443, "other.org, example.com:443", True),
    ("api.example.com", 443, "example.com:8443", False),
    ("10.1.2.3", 80, "10.0.0.0/8", True),
    ("11.1.2.3", 80, "10.0.0.0/8", False),
    ("::1", 80, "", True),
    ("127.0.0.1", 80, "", True),
    ("localhost", 80, "", True),
    ("app.localhost", 80, "", True),
    ("fd00::1", 80, "[fd00::1]:80", True),
])
def test_no_proxy_matching(host: str, port: int, no_proxy: str, bypass: bool) -> None:
    assert _h11.bypass_proxy(host, port, no_proxy) is bypass


def test_split_url() -> None:
    assert _h11.split_url("HTTPS://API.Example.com/v1?a=b#frag") == (
        "https", "api.example.com", 443, "/v1?a=b", "api.example.com")
    assert _h11.split_url("http://u:p@[::1]:8080?q") == ("http", "::1", 8080, "/?q", "[::1]:8080")
    for bad in ("ftp://x/", "http://", "http://h:port/", "http://h/a b", "http://h:70000/"):
        with pytest.raises(ValueError):
            _h11.split_url(bad)


def test_env_proxies_precedence() -> None:
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2",
           "ALL_PROXY": "http://all:3", "NO_PROXY": "a.com"}
    assert _h11.env_proxies(env) == ({"http": "http://lower:2", "https": "http://all:3"},
                                     "a.com")
    # In a CGI process HTTP_PROXY may come from a request header ("httpoxy"): ignored.
    cgi = {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}
    assert _h11.env_proxies(cgi) == ({}, "")
    with pytest.raises(PBConnectionError, match="unsupported proxy"):
        _h11.proxy_for(({"https": "socks5://p:1080"}, ""), "https", "api.example.com", 443)
