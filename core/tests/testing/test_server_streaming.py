"""FakeServer streamed replies: SSE, chunks with pauses, gzip, NDJSON and event streams."""

from __future__ import annotations

import gzip
import time
import zlib

import httpx
import pytest
from _fakeserver_support import Raw

from plugbay.testing.server import FakeServer, Pause, Reply


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
