"""FakeServer fault replies: delays, stalls, drops, resets, truncation and bad gzip."""

from __future__ import annotations

import http.client
import socket
import time

import httpx
import pytest
from _fakeserver_support import Raw

from plugbay.testing.server import FakeServer, Reply


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
