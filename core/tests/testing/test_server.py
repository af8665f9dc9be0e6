"""The fake upstream server, checked with plain clients: raw sockets, http.client, httpx."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest

from plugbay.http.models import Headers
from plugbay.testing.server import FakeServer, Pause, RecordedRequest, Reply

pytest_plugins = ("pytester",)


class Raw:
    """A raw HTTP/1.1 client socket that reads exactly what the server framed."""

    def __init__(self, srv: FakeServer, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        self.buf = b""

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def send(self, method: str, path: str, body: bytes = b"", headers: str = "") -> None:
        framing = f"Content-Length: {len(body)}\r\n" if body else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: t\r\n{framing}{headers}\r\n"
        self.sock.sendall(head.encode() + body)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(self.buf)
        self.buf += data

    def until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        out, _, self.buf = self.buf.partition(sep)
        return out + sep

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self) -> tuple[int, Headers]:
        lines = self.until(b"\r\n\r\n").decode().split("\r\n")[:-2]
        pairs = [tuple(line.split(": ", 1)) for line in lines[1:]]
        return int(lines[0].split(" ")[1]), Headers([(k, v) for k, v in pairs])

    def chunk(self) -> bytes | None:
        size = int(self.until(b"\r\n"), 16)
        if size == 0:
            assert self.exact(2) == b"\r\n"
            return None
        data = self.exact(size)
        assert self.exact(2) == b"\r\n"
        return data

    def chunks(self) -> list[bytes]:
        return list(iter(self.chunk, None))

    def response(self) -> tuple[int, Headers, bytes]:
        status, headers = self.head()
        if headers.get("transfer-encoding") == "chunked":
            return status, headers, b"".join(self.chunks())
        return status, headers, self.exact(int(headers.get("content-length", "0")))

    def eof(self) -> bool:
        return self.sock.recv(1) == b""


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def conn(srv: FakeServer) -> Iterator[http.client.HTTPConnection]:
    client = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    yield client
    client.close()


@pytest.mark.timeout(10)
def test_url_is_loopback_with_os_port() -> None:
    server = FakeServer()
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.port > 0


@pytest.mark.timeout(10)
def test_json_reply_exact_bytes(srv: FakeServer) -> None:
    srv.add("POST", "/v1/chat/completions", Reply.json({"a": [1, "é"]}))
    with Raw(srv) as raw:
        raw.send("POST", "/v1/chat/completions", b"{}", "Connection: close\r\n")
        body = '{"a":[1,"é"]}'.encode()
        expected = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        assert raw.exact(len(expected)) == expected
        assert raw.eof()


@pytest.mark.timeout(10)
def test_text_raw_and_custom_headers(srv: FakeServer, conn: http.client.HTTPConnection) -> None:
    srv.add("GET", "/t", Reply.text("héllo", status=201, headers={"X-A": "1"}))
    cookies = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Type", "x/y")]
    srv.add("GET", "/r", Reply.raw(b"\x00\xff", content_type="a/b", headers=cookies))
    conn.request("GET", "/t")
    resp = conn.getresponse()
    assert (resp.status, resp.reason, resp.read()) == (201, "Created", "héllo".encode())
    assert resp.getheader("content-type") == "text/plain" and resp.getheader("x-a") == "1"
    conn.request("GET", "/r")
    resp = conn.getresponse()
    assert resp.read() == b"\x00\xff"
    assert resp.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert resp.headers.get_all("content-type") == ["x/y"]  # the caller's replaces the default


@pytest.mark.timeout(10)
def test_replies_in_order_then_last_repeats(srv: FakeServer) -> None:
    limited = Reply.json(
        {"error": {"message": "slow down"}}, status=429, headers={"retry-after": "1"}
    )
    route = srv.add("POST", "/x", limited, Reply.json({"n": 1}), Reply.json({"n": 2}))
    with httpx.Client(base_url=srv.url) as client:
        first = client.post("/x")
        assert (first.status_code, first.headers["retry-after"]) == (429, "1")
        assert [client.post("/x").json()["n"] for _ in range(3)] == [1, 2, 2]
    assert route.hits == 4 and len(route.requests) == 4


@pytest.mark.timeout(10)
def test_later_add_replaces_route_and_clear_forgets(srv: FakeServer) -> None:
    srv.add("GET", "/a", Reply.text("old"))
    srv.add("get", "/a", Reply.text("new"))
    with httpx.Client(base_url=srv.url) as client:
        assert client.get("/a").text == "new"
        srv.clear()
        assert srv.requests == []
        assert client.get("/a").status_code == 404


@pytest.mark.timeout(10)
def test_regex_routes_fullmatch_the_path_only(srv: FakeServer) -> None:
    srv.add("GET", re.compile(r"/v1/models.*"), Reply.json({"data": []}))
    srv.add("GET", re.compile(r"/v1/models/x"), Reply.json({"id": "x"}))  # later: lower priority
    with httpx.Client(base_url=srv.url) as client:
        assert client.get("/v1/models").json() == {"data": []}
        assert client.get("/v1/models/gpt-4o", params={"q": "1"}).status_code == 200
        assert client.get("/api/v1/models").status_code == 404


@pytest.mark.timeout(10)
def test_unmatched_request_gets_404_json(srv: FakeServer) -> None:
    srv.add("GET", "/path", Reply.json({}))
    with httpx.Client(base_url=srv.url) as client:
        resp = client.post("/path?x=1")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"message": "fake server: no route for POST /path"}}


@pytest.mark.timeout(10)
def test_percent_encoded_path_matches_decoded_route(srv: FakeServer) -> None:
    srv.add("POST", "/model/a.b:0/invoke", Reply.json({"ok": True}))
    with Raw(srv) as raw:
        raw.send("POST", "/model/a.b%3A0/invoke")
        assert raw.response()[0] == 200
    assert srv.last.path == "/model/a.b%3A0/invoke"


@pytest.mark.timeout(10)
def test_sync_and_async_callables(srv: FakeServer) -> None:
    srv.add("POST", "/sync", lambda req: Reply.json({"echo": req.json()}))

    async def slow_echo(req: RecordedRequest) -> Reply:
        await asyncio.sleep(0.01)
        return Reply.text(req.text.upper())

    srv.add("POST", "/async", slow_echo)
    with httpx.Client(base_url=srv.url) as client:
        assert client.post("/sync", json={"q": 2}).json() == {"echo": {"q": 2}}
        assert client.post("/async", content=b"hi").text == "HI"


@pytest.mark.timeout(10)
def test_failing_callable_answers_500_and_keeps_the_error(srv: FakeServer) -> None:
    def boom(req: RecordedRequest) -> Reply:
        raise KeyError("nope")

    srv.add("GET", "/boom", boom, lambda req: "not a reply")  # type: ignore[arg-type,return-value]
    with httpx.Client(base_url=srv.url) as client:
        first, second = client.get("/boom"), client.get("/boom")
    assert (first.status_code, second.status_code) == (500, 500)
    assert "KeyError" in first.json()["error"]["message"]
    assert [type(e) for e in srv.errors] == [KeyError, TypeError]


@pytest.mark.timeout(10)
def test_requests_are_recorded(srv: FakeServer) -> None:
    with pytest.raises(LookupError):
        srv.last  # noqa: B018
    srv.add("POST", "/v1/chat", Reply.json({}))
    with httpx.Client(base_url=srv.url) as client:
        client.get("/first")
        client.post(
            "/v1/chat?a=1&a=2&empty=",
            json={"model": "m", "msg": "é"},
            headers={"Authorization": "Bearer k", "X-Trace": "t"},
        )
    first, req = srv.requests
    assert (first.method, first.path, req.method, req.path) == ("GET", "/first", "POST", "/v1/chat")
    assert srv.last is req
    assert req.url == "/v1/chat?a=1&a=2&empty="
    assert req.query == {"a": ["1", "2"], "empty": [""]}
    assert req.headers["authorization"] == "Bearer k" and req.headers["X-TRACE"] == "t"
    assert req.json() == {"model": "m", "msg": "é"}
    assert json.loads(req.text) == req.json() and req.body == req.text.encode()
    assert first.connection == req.connection == 1


@pytest.mark.timeout(10)
def test_chunked_request_body_and_expect_continue(srv: FakeServer) -> None:
    srv.add("PUT", "/up", Reply.text("ok"))
    with Raw(srv) as raw:
        raw.send("PUT", "/up", headers="Transfer-Encoding: chunked\r\n")
        raw.sock.sendall(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
        assert raw.response()[2] == b"ok"
        raw.send("PUT", "/up", b"abc", "Expect: 100-continue\r\n")
        assert raw.head()[0] == 100
        assert raw.response()[0] == 200
    assert [r.body for r in srv.requests] == [b"hello world", b"abc"]


@pytest.mark.timeout(10)
def test_keep_alive_serves_two_requests_on_one_connection(
    srv: FakeServer, conn: http.client.HTTPConnection
) -> None:
    srv.add("GET", "/a", Reply.json({"a": 1}))
    for _ in range(2):
        conn.request("GET", "/a")
        assert conn.getresponse().read() == b'{"a":1}'
    assert srv.connections == 1
    assert [r.connection for r in srv.requests] == [1, 1]


@pytest.mark.timeout(10)
def test_connection_close_is_honoured(srv: FakeServer) -> None:
    srv.add("GET", "/a", Reply.sse([{"x": 1}]))
    with Raw(srv) as raw:
        raw.send("GET", "/a", headers="Connection: close\r\n")
        _, headers, body = raw.response()
        assert headers["connection"] == "close" and body == b'data: {"x":1}\n\n'
        assert raw.eof()


@pytest.mark.timeout(10)
def test_head_has_headers_only_and_keeps_the_connection(srv: FakeServer) -> None:
    srv.add("GET", "/a", Reply.json({"a": 1}))
    srv.add("GET", "/s", Reply.sse([{"a": 1}]))
    with Raw(srv) as raw:
        raw.send("HEAD", "/a")
        assert raw.head()[1]["content-length"] == "7"
        raw.send("HEAD", "/s")
        assert raw.head()[1]["transfer-encoding"] == "chunked"
        raw.send("GET", "/a")
        assert raw.response()[2] == b'{"a":1}'  # nothing stray was left after the HEADs


@pytest.mark.timeout(10)
def test_empty_status_has_no_body(srv: FakeServer) -> None:
    srv.add("DELETE", "/a", Reply.raw(b"", status=204))
    with Raw(srv) as raw:
        raw.send("DELETE", "/a", headers="Connection: close\r\n")
        status, headers = raw.head()
        assert status == 204 and "content-length" not in headers
        assert raw.eof() and raw.buf == b""


@pytest.mark.timeout(10)
def test_bad_request_gets_400(srv: FakeServer) -> None:
    with Raw(srv) as raw:
        raw.sock.sendall(b"NONSENSE\r\n\r\n")
        assert raw.response()[0] == 400
        assert raw.eof()


@pytest.mark.timeout(10)
def test_sse_sends_one_chunk_per_event_verbatim(srv: FakeServer) -> None:
    events: list[object] = [
        ": OPENROUTER PROCESSING\n\n",
        {"id": "a", "choices": [{"delta": {"content": "hi\n"}}]},
        'event: message_start\ndata: {"type":"message_start"}\n\n',
        'data:{"nospace":true}\n\n',
        b"data: [DONE]\n\n",
    ]
    srv.add("POST", "/s", Reply.sse(events))
    with Raw(srv) as raw:
        raw.send("POST", "/s", b"{}")
        headers = raw.head()[1]
        assert headers["content-type"] == "text/event-stream"
        assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
        assert raw.chunks() == [
            b": OPENROUTER PROCESSING\n\n",
            b'data: {"id":"a","choices":[{"delta":{"content":"hi\\n"}}]}\n\n',
            b'event: message_start\ndata: {"type":"message_start"}\n\n',
            b'data:{"nospace":true}\n\n',
            b"data: [DONE]\n\n",
        ]


@pytest.mark.timeout(10)
def test_sse_crlf_applies_to_dict_events(srv: FakeServer) -> None:
    srv.add("GET", "/s", Reply.sse([{"a": 1}, "data: x\n\n"], crlf=True))
    with Raw(srv) as raw:
        raw.send("GET", "/s")
        raw.head()
        assert raw.chunks() == [b'data: {"a":1}\r\n\r\n', b"data: x\n\n"]


@pytest.mark.timeout(10)
def test_first_event_arrives_before_a_later_pause(srv: FakeServer) -> None:
    parts: list[bytes | str | Pause] = ["data: 1\n\n", Pause(1.5), b"data: 2\n\n"]
    srv.add("GET", "/p", Reply.chunks(parts, content_type="text/event-stream"))
    srv.add("GET", "/d", Reply.sse([{"n": 1}, {"n": 2}], chunk_delay=1.0))
    for path, gap in (("/p", 1.5), ("/d", 1.0)):
        with Raw(srv) as raw:
            start = time.monotonic()
            raw.send("GET", path)
            raw.head()
            assert raw.chunk() is not None
            assert time.monotonic() - start < gap - 0.4
            assert raw.chunk() is not None
            assert time.monotonic() - start >= gap - 0.05


@pytest.mark.timeout(10)
def test_gzip_sse_decodes_incrementally(srv: FakeServer) -> None:
    events = [{"n": 1}, {"n": 2}, "data: [DONE]\n\n"]
    srv.add("GET", "/g", Reply.sse(events, gzip=True, stall_after=1, stall=1.5))
    with Raw(srv) as raw:
        start = time.monotonic()
        raw.send("GET", "/g")
        assert raw.head()[1]["content-encoding"] == "gzip"
        decoder = zlib.decompressobj(wbits=31)
        first = raw.chunk()
        assert first is not None and decoder.decompress(first) == b'data: {"n":1}\n\n'
        assert time.monotonic() - start < 1.0  # decoded while the server is still stalled
        rest = b"".join(decoder.decompress(c) for c in raw.chunks())
        assert rest == b'data: {"n":2}\n\ndata: [DONE]\n\n' and decoder.eof


@pytest.mark.timeout(10)
def test_gzip_bodies_decode_in_httpx(srv: FakeServer) -> None:
    srv.add("GET", "/j", Reply.json({"a": 1}, gzip=True))
    srv.add("GET", "/s", Reply.sse([{"a": 1}, {"b": 2}], gzip=True))
    srv.add("GET", "/c", Reply.chunks(["x" * 10, b"y"], gzip=True, content_type="text/plain"))
    with httpx.Client(base_url=srv.url) as client:
        resp = client.get("/j")
        assert resp.headers["content-encoding"] == "gzip" and resp.json() == {"a": 1}
        assert int(resp.headers["content-length"]) == len(gzip.compress(b'{"a":1}', mtime=0))
        with client.stream("GET", "/s") as stream:
            assert list(stream.iter_lines()) == ['data: {"a":1}', "", 'data: {"b":2}', ""]
        assert client.get("/c").text == "x" * 10 + "y"


@pytest.mark.timeout(10)
def test_ndjson_and_eventstream(srv: FakeServer) -> None:
    srv.add("POST", "/api/chat", Reply.ndjson([{"done": False}, '{"done":true}']))
    frames = [b"\x00\x00\x00\x10frame-one", b"\x00\x00\x00\x10frame-two"]
    srv.add("POST", "/invoke", Reply.eventstream(frames))
    with Raw(srv) as raw:
        raw.send("POST", "/api/chat", b"{}")
        assert raw.head()[1]["content-type"] == "application/x-ndjson"
        assert raw.chunks() == [b'{"done":false}\n', b'{"done":true}\n']
        raw.send("POST", "/invoke", b"{}")
        assert raw.head()[1]["content-type"] == "application/vnd.amazon.eventstream"
        assert raw.chunks() == frames


@pytest.mark.timeout(10)
def test_delay_holds_back_the_status_line(srv: FakeServer) -> None:
    srv.add("GET", "/slow", Reply.json({}, delay=0.5))
    start = time.monotonic()
    with httpx.Client(base_url=srv.url) as client:
        assert client.get("/slow").status_code == 200
    assert time.monotonic() - start >= 0.5


@pytest.mark.timeout(10)
def test_stall_sends_nothing_then_closes(srv: FakeServer) -> None:
    srv.add("POST", "/x", Reply.stall(1.0))
    with Raw(srv, timeout=0.3) as raw:
        raw.send("POST", "/x", b"{}")
        with pytest.raises(socket.timeout):
            raw.sock.recv(1)
        raw.sock.settimeout(5)
        assert raw.eof()
    assert srv.last.body == b"{}"


@pytest.mark.timeout(10)
def test_drop_and_reset(srv: FakeServer, conn: http.client.HTTPConnection) -> None:
    srv.add("GET", "/drop", Reply.drop())
    srv.add("GET", "/reset", Reply.reset())
    conn.request("GET", "/drop")
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    with Raw(srv) as raw:
        raw.send("GET", "/reset")
        with pytest.raises(ConnectionResetError):
            raw.sock.recv(1)


@pytest.mark.timeout(10)
def test_truncated_body(srv: FakeServer, conn: http.client.HTTPConnection) -> None:
    srv.add("GET", "/t", Reply.truncated(b'{"partial', claim=50))
    conn.request("GET", "/t")
    resp = conn.getresponse()
    assert resp.getheader("content-length") == "50"
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert info.value.partial == b'{"partial'
    with httpx.Client(base_url=srv.url) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/t")


@pytest.mark.timeout(10)
def test_sse_cut_after_closes_without_terminating_chunk(srv: FakeServer) -> None:
    srv.add("GET", "/c", Reply.sse([{"n": 1}, {"n": 2}, {"n": 3}], cut_after=2))
    with Raw(srv) as raw:
        raw.send("GET", "/c")
        raw.head()
        assert [raw.chunk(), raw.chunk()] == [b'data: {"n":1}\n\n', b'data: {"n":2}\n\n']
        assert raw.eof() and raw.buf == b""
    got: list[str] = []
    with (
        httpx.Client(base_url=srv.url) as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("GET", "/c") as stream,
    ):
        got.extend(line for line in stream.iter_lines() if line)
    assert got == ['data: {"n":1}', 'data: {"n":2}']


@pytest.mark.timeout(10)
def test_sse_stall_after_trips_a_read_timeout_then_resumes(srv: FakeServer) -> None:
    srv.add("GET", "/s", Reply.sse([{"n": 1}, {"n": 2}], stall_after=1, stall=1.0))
    got: list[str] = []
    with (
        httpx.Client(base_url=srv.url, timeout=httpx.Timeout(5, read=0.3)) as client,
        pytest.raises(httpx.ReadTimeout),
        client.stream("GET", "/s") as stream,
    ):
        got.extend(line for line in stream.iter_lines() if line)
    assert got == ['data: {"n":1}']
    with Raw(srv) as raw:  # a patient client gets the rest after the stall
        raw.send("GET", "/s")
        raw.head()
        assert raw.chunks() == [b'data: {"n":1}\n\n', b'data: {"n":2}\n\n']


@pytest.mark.timeout(10)
def test_bad_gzip(srv: FakeServer) -> None:
    srv.add("GET", "/b", Reply.bad_gzip(b'{"a":1}'))
    with Raw(srv) as raw:
        raw.send("GET", "/b")
        _, headers, body = raw.response()
        assert headers["content-encoding"] == "gzip" and body == b'{"a":1}'
    with httpx.Client(base_url=srv.url) as client, pytest.raises(httpx.DecodingError):
        client.get("/b")


@pytest.mark.timeout(10)
def test_builders_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Reply.truncated(b"abc", claim=3)
    with pytest.raises(ValueError):
        Reply.sse([{"a": 1}], cut_after=2)
    with pytest.raises(TypeError):
        Reply.sse([1])
    with pytest.raises(ValueError):
        Reply.json({}, status=42)
    with pytest.raises(ValueError):
        FakeServer().add("GET", "/a")


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


@pytest.mark.timeout(10)
def test_stop_during_a_stall_returns_quickly() -> None:
    server = FakeServer().start()
    server.add("GET", "/s", Reply.stall(60))
    server.add("GET", "/p", Reply.sse([{"a": 1}, {"b": 2}], stall_after=1, stall=60))
    with Raw(server) as one, Raw(server) as two:
        one.send("GET", "/s")
        two.send("GET", "/p")
        two.head()
        two.chunk()
        while server.open_connections < 2 or len(server.requests) < 2:
            time.sleep(0.01)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 1.0
        for raw in (one, two):
            try:
                assert raw.sock.recv(1) == b""
            except ConnectionResetError:
                pass  # an aborted connection may also arrive as a reset
    server.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)


@pytest.mark.timeout(10)
def test_restart_keeps_the_port() -> None:
    server = FakeServer()
    server.add("GET", "/a", Reply.text("a"))
    with server:
        port = server.port
    with server, httpx.Client() as client:
        assert server.port == port and client.get(server.url + "/a").text == "a"


@pytest.mark.timeout(10)
def test_start_raises_when_the_port_is_taken(srv: FakeServer) -> None:
    with pytest.raises(OSError):
        FakeServer(port=srv.port).start()


@pytest.mark.timeout(20)
def test_serves_a_subprocess(srv: FakeServer) -> None:
    srv.add("GET", "/ping", Reply.text("pong"))
    code = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
    out = subprocess.run(
        [sys.executable, "-c", code, srv.url + "/ping"], capture_output=True, text=True, timeout=15
    )
    assert out.stdout.strip() == "pong"


@pytest.mark.timeout(10)
def test_fixture_serves(fake_server: FakeServer) -> None:
    fake_server.add("GET", "/a", Reply.json([1]))
    with httpx.Client(base_url=fake_server.url) as client:
        assert client.get("/a").json() == [1]


@pytest.mark.timeout(60)
def test_fixture_stops_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket, pytest
        ports = []
        def test_a(fake_server):
            ports.append(fake_server.port)
            socket.create_connection(("127.0.0.1", fake_server.port)).close()
        def test_b():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", ports[0]), timeout=2)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.timeout(30)
def test_plugin_import_is_light() -> None:
    code = (
        "import sys, plugbay.testing.pytest_plugin; "
        "print('plugbay.testing.server' in sys.modules, 'httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert out.stdout.split() == ["False", "False"], out.stderr
