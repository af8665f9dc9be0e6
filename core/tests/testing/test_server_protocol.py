"""FakeServer HTTP/1.1 handling: request bodies, keep-alive, close, HEAD, bad requests."""

from __future__ import annotations

import http.client

import pytest
from _fakeserver_support import Raw

from plugbay.testing.server import FakeServer, Reply


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
