"""AsyncioTransport framing: request heads, response bodies by length, chunks or EOF."""

from __future__ import annotations

import asyncio
import json

import pytest
from _transport_support import Request, chunked, get, keepalive, once, read_request, reply, serve

from plugbay import __version__
from plugbay.errors import ConnectionError as PBConnectionError
from plugbay.http.models import HTTPRequest, Transport
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)


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
