"""Bounded memory: the body cap, the per-event cap of streams and the decompression-bomb
guard, each measured with tracemalloc against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import repeat

import pytest
from _transport_support import Handler, gzip_bytes, read_request, serve

import plugbay
from plugbay.config import load_config
from plugbay.errors import ConfigError, ResponseTooLargeError
from plugbay.http._inflate import STEP
from plugbay.http.client import HTTPClient
from plugbay.http.models import Limits
from plugbay.http.sse import SSEDecoder, aiter_ndjson
from plugbay.openai_compat import OpenAICompatible

pytestmark = pytest.mark.timeout(60)

MiB = 1 << 20
FRAME = 64 * 1024
CHUNK = b"%x\r\n" % FRAME + b"x" * FRAME + b"\r\n"  # one chunked-encoding frame


class Peak:
    bytes = 0


@contextmanager
def peak_memory() -> Iterator[Peak]:
    """The most memory allocated at once inside the block, above what was live before it."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    found = Peak()
    try:
        yield found
    finally:
        found.bytes = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()


def sends(head: bytes, parts: Iterable[bytes | memoryview]) -> Handler:
    """Answer each request with ``head`` then ``parts``, pacing on the client's reads."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while await read_request(reader) is not None:
            writer.write(head)
            for part in parts:
                writer.write(part)
                await writer.drain()  # keeps the server's own buffer (traced too) small
    return handler


def endless(head: str, total: int) -> Handler:
    """A chunked body of ``total`` bytes of "x" (more than any cap here): as good as endless."""
    head_bytes = f"HTTP/1.1 200 OK\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode()
    return sends(head_bytes, [*repeat(CHUNK, total // FRAME), b"0\r\n\r\n"])


# ------------------------------------------------------------------ max_body

@pytest.mark.parametrize("framing", ["chunked", "content-length"])
async def test_body_over_max_body_is_refused_with_bounded_memory(framing: str) -> None:
    cap, total = 4 * MiB, 64 * MiB
    if framing == "chunked":
        handler = endless("", total)
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode()
        handler = sends(head, repeat(CHUNK[6:-2], total // FRAME))
    http = HTTPClient(limits=Limits(max_body=cap))
    async with serve(handler) as server:
        with peak_memory() as peak, pytest.raises(ResponseTooLargeError) as caught:
            await http.request("GET", server.url())
        await http.aclose()
    assert peak.bytes < 1.5 * cap  # it holds at most the cap, never the 64 MiB body
    err = caught.value
    assert err.limit == cap and err.setting == "max_body" and err.status == 200
    assert not err.retryable and isinstance(err, plugbay.MalformedResponseError)
    assert "4 MiB" in str(err) and "max_body" in str(err) and "plugbay.toml" in str(err)


@pytest.mark.parametrize("gzip", [False, True])
async def test_big_allowed_body_costs_at_most_twice_its_size(gzip: bool) -> None:
    text = "token " * (20_000_000 // 6)
    doc = json.dumps({"choices": [{"message": {"content": text}}]}).encode()
    body = memoryview(gzip_bytes(doc) if gzip else doc)
    coding = "Content-Encoding: gzip\r\n" if gzip else ""
    head = f"HTTP/1.1 200 OK\r\n{coding}Content-Length: {len(body)}\r\n\r\n".encode()
    parts = (body[i:i + FRAME] for i in range(0, len(body), FRAME))
    http = HTTPClient()
    async with serve(sends(head, parts)) as server:
        with peak_memory() as peak:
            response = await http.request("GET", server.url())
            data = response.json()
        await http.aclose()
    assert data["choices"][0]["message"]["content"] == text
    # Read whole: chunks then their join (2x); parsed: the text then the value (2x), the
    # bytes let go first. Before, bytes, text and value were all alive at once (3x).
    assert peak.bytes < 2.25 * len(doc), peak.bytes / len(doc)
    assert response.content == doc  # still there, re-encoded from the kept text


# ------------------------------------------------------------------ decompression bombs

BOMB = gzip_bytes(bytes(10_000_000))  # 10 MB of zeros in about 10 KB


@pytest.mark.parametrize("framing", ["whole", "chunked"])
async def test_gzip_bomb_is_refused_without_inflating_past_the_cap(framing: str) -> None:
    assert len(BOMB) < 20_000
    cap = 1 * MiB
    if framing == "whole":  # arrives in one read: decoded on the fast path
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(BOMB)}\r\n\r\n"
        parts = [BOMB]
    else:
        head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        parts = [b"%x\r\n%s\r\n" % (len(p), p) for p in (BOMB[i:i + 1000]
                                                          for i in range(0, len(BOMB), 1000))]
        parts.append(b"0\r\n\r\n")
    http = HTTPClient(limits=Limits(max_body=cap))
    async with serve(sends(head.encode(), parts)) as server:
        with peak_memory() as peak, pytest.raises(ResponseTooLargeError) as caught:
            await http.request("GET", server.url())
        await http.aclose()
    assert caught.value.setting == "max_body" and caught.value.limit == cap
    assert peak.bytes < 3 * cap  # nowhere near the 10 MB it would inflate to


async def test_streamed_gzip_bomb_inflates_in_bounded_steps() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    wire = [b"%x\r\n%s\r\n" % (len(BOMB), BOMB), b"0\r\n\r\n"]
    http = HTTPClient()
    async with serve(sends(head, wire)) as server:
        with peak_memory() as peak:
            async with http.stream("GET", server.url()) as response:
                sizes = [len(piece) async for piece in response.aiter_bytes()]
        await http.aclose()
    assert sum(sizes) == 10_000_000  # a stream as a whole is not capped...
    assert max(sizes) <= STEP  # ...but no piece of it inflates at once
    assert peak.bytes < 4 * STEP


async def test_httpx_transport_guards_bombs_too() -> None:
    pytest.importorskip("httpx")
    from plugbay.http.adapters import HttpxTransport

    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    wire = [b"%x\r\n%s\r\n" % (len(BOMB), BOMB), b"0\r\n\r\n"]
    async with serve(sends(head, wire)) as server:
        http = HTTPClient(HttpxTransport(), limits=Limits(max_body=MiB))
        async with http.stream("GET", server.url()) as response:
            sizes = [len(piece) async for piece in response.aiter_bytes()]
        assert sum(sizes) == 10_000_000 and max(sizes) <= STEP
        with peak_memory() as peak, pytest.raises(ResponseTooLargeError):
            await http.request("GET", server.url())
        await http.aclose()
    assert peak.bytes < 3 * MiB


# ------------------------------------------------------------------ max_event

async def test_sse_line_that_never_ends_is_cut_at_max_event() -> None:
    cap = 1 * MiB
    http = HTTPClient(limits=Limits(max_event=cap))
    received = 0
    async with serve(endless("Content-Type: text/event-stream\r\n", 64 * MiB)) as server:
        with peak_memory() as peak, pytest.raises(ResponseTooLargeError) as caught:
            async with http.stream("GET", server.url()) as response:
                decoder = SSEDecoder(http.limits.max_event)
                decoder.feed(b"data: ")
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    decoder.feed(chunk)
        await http.aclose()
    assert caught.value.setting == "max_event" and caught.value.limit == cap
    assert "an SSE event" in str(caught.value) and "1 MiB" in str(caught.value)
    assert cap < received < cap + STEP * 2  # cut as soon as it passed the cap
    assert peak.bytes < 4 * cap


async def test_ndjson_line_that_never_ends_is_cut_at_max_event() -> None:
    cap = 1 * MiB
    http = HTTPClient(limits=Limits(max_event=cap))
    async with serve(endless("", 64 * MiB)) as server:
        with pytest.raises(ResponseTooLargeError, match="an NDJSON line is larger than the 1 MiB"):
            async with http.stream("GET", server.url()) as response:
                async for _ in aiter_ndjson(response.aiter_bytes(), http.limits.max_event):
                    pass
        await http.aclose()


def test_complete_events_over_max_event_are_refused_too() -> None:
    sse = SSEDecoder(max_event=100)
    assert [e.data for e in sse.feed(b"data: " + b"a" * 60 + b"\n\n")] == ["a" * 60]
    with pytest.raises(ResponseTooLargeError):  # two data lines, one event, in one chunk
        sse.feed(b"data: " + b"a" * 60 + b"\ndata: " + b"b" * 60 + b"\n\n")
    from plugbay.http.sse import NDJSONDecoder

    nd = NDJSONDecoder(max_event=100)
    assert nd.feed(b'{"a": 1}\n' * 50) == [{"a": 1}] * 50  # many small lines are fine
    with pytest.raises(ResponseTooLargeError):
        nd.feed(b'{"a": "' + b"x" * 200 + b'"}\n')


class _Compat(OpenAICompatible):
    name = "compat"
    default_base_url = "http://127.0.0.1:9/v1"
    api_key_env = ("COMPAT_API_KEY",)


async def test_a_provider_instance_takes_max_event_from_its_config() -> None:
    head = "Content-Type: text/event-stream\r\n"
    async with serve(endless(head, 64 * MiB)) as server:
        table = {"base_url": server.url("/v1"), "api_key": "k", "max_event": "1 MiB"}
        client = plugbay.Client({"providers": {"compat": table}}, env={}, plugins=[_Compat()])
        with pytest.raises(ResponseTooLargeError) as caught:
            async for _ in client.astream("compat/m", "hi"):
                pass
    assert caught.value.provider == "compat" and caught.value.limit == MiB


def test_a_route_fails_over_from_an_oversized_answer_without_retrying_it() -> None:
    from plugbay.routing import retry

    err = ResponseTooLargeError("response body", limit=MiB, setting="max_body")
    assert retry.classify(err) == retry.TARGET  # the next target, not the same one again


# ------------------------------------------------------------------ configuration

async def test_the_http_section_reaches_every_provider_instance() -> None:
    head = "Content-Type: text/event-stream\r\n"
    async with serve(endless(head, 64 * MiB)) as server:
        table = {"base_url": server.url("/v1"), "api_key": "k"}
        client = plugbay.Client({"providers": {"compat": table},
                                 "http": {"max_event": "1 MiB"}}, env={}, plugins=[_Compat()])
        with pytest.raises(ResponseTooLargeError) as caught:
            async for _ in client.astream("compat/m", "hi"):
                pass
    assert caught.value.limit == MiB


def test_http_limits_from_plugbay_toml() -> None:
    config = load_config({"http": {"max_body": "64 MiB", "max_event": 1000}}, {})
    assert config.http.limits() == Limits(max_body=64 * MiB, max_event=1000)
    assert load_config({}, {}).http.limits() == Limits()
    with pytest.raises(ConfigError, match=r"http\.max_body"):
        load_config({"http": {"max_body": "lots"}}, {})
    with pytest.raises(ConfigError, match=r"http\.max_event"):
        load_config({"http": {"max_event": 0}}, {})
    with pytest.raises(ConfigError, match=r"http\.max_size"):
        load_config({"http": {"max_size": 10}}, {})


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limits(max_body=0)
