"""AsyncioTransport content decoding: gzip and deflate bodies, bad and unknown codings."""

from __future__ import annotations

import zlib

import pytest
from _transport_support import (
    DOC,
    chunked,
    get,
    gzip_bytes,
    keepalive,
    once,
    raw_deflate,
    reply,
    serve,
)

from plugbay.errors import ConnectionError as PBConnectionError
from plugbay.http import _h11, _inflate
from plugbay.http.models import HTTPRequest
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)


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


def test_framer_and_decoder_byte_by_byte() -> None:
    encoded = gzip_bytes(DOC)
    wire = chunked(encoded[:100], encoded[100:101], encoded[101:], trailers="T: 1\r\n")
    framer, decoder, out = _h11.Framer(_h11.CHUNKED), _inflate.Decoder("gzip"), []
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
