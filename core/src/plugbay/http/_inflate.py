"""Incremental gzip/deflate decoding of response bodies, in bounded steps.

Each ``Decoder.feed`` gives back at most ``STEP`` decoded bytes (``zlib``'s
``max_length``), so a small compressed chunk can never inflate into one huge
allocation (a decompression bomb): the caller drains ``more`` before feeding new
input, and a body read whole stops at its limit (``whole``). Malformed input raises
``plugbay.errors.ConnectionError``, like everything else wrong on the wire.
"""

from __future__ import annotations

import zlib
from typing import Any

from plugbay.errors import ConnectionError as HTTPConnectionError

__all__ = ["STEP", "Decoder", "make_decoder"]

STEP = 256 * 1024  # the most decoded bytes one Decoder.feed gives back


class Decoder:
    """Incremental gzip/deflate decoding that refuses bodies that are not what they claim.

    Each ``feed`` gives back at most ``limit`` bytes, so a small compressed chunk cannot
    inflate into a huge allocation (a decompression bomb); ``more`` then says that output
    is still held back, to be had with ``feed(b"")`` before feeding new input.
    """

    __slots__ = ("_pending", "_z", "more", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._z: Any = None  # a zlib decompress object
        self._pending = b""
        self.more = False

    def feed(self, data: bytes, limit: int = STEP) -> bytes:
        z = self._z
        if z is None:
            data = self._pending + data
            if len(data) < 2:
                self._pending = data
                return b""
            self._pending = b""
            wbits = 47  # gzip or zlib header, detected by zlib
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
            if self.name == "deflate" and data[:2] != b"\x1f\x8b" and (
                (data[0] & 0x0F) != 8 or ((data[0] << 8) | data[1]) % 31
            ):
                wbits = -15
            z = self._z = zlib.decompressobj(wbits)
        elif self.more and not z.eof:  # input held back by the last call comes first
            # (at a member's end zlib leaves the rest in unused_data, and also in the tail)
            data = z.unconsumed_tail + data
        try:
            out: bytes = z.decompress(data, limit)
            while z.eof and z.unused_data and len(out) < limit:  # concatenated gzip members
                rest = z.unused_data
                z = self._z = zlib.decompressobj(47)
                out += z.decompress(rest, limit - len(out))
        except zlib.error as exc:
            raise HTTPConnectionError(f"invalid {self.name} body: {exc}") from None
        # Short of the limit means zlib ran out of input, so it holds nothing back.
        self.more = len(out) >= limit
        return out

    def whole(self, data: bytes, limit: int) -> bytes | None:
        """All of a body that arrived whole, or None if it inflates past ``limit`` bytes."""
        out = self.feed(data)
        if self.more:  # in steps, then one join: 2x the body at most, never past the limit
            parts, size = [out], len(out)
            while self.more:
                out = self.feed(b"")
                size += len(out)
                if size > limit:
                    return None
                parts.append(out)
            out = b"".join(parts)
        elif len(out) > limit:
            return None
        self.finish()
        return out

    def finish(self) -> bytes:
        """Called at the end of the body: a stream cut short is an error, not a short body."""
        if self._pending or self.more or (self._z is not None and not self._z.eof):
            raise HTTPConnectionError(f"invalid {self.name} body: truncated stream")
        return b""


def make_decoder(coding: str) -> Decoder | None:
    """A decoder for one gzip/deflate coding; other or stacked codings pass through as is."""
    name = coding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return Decoder("gzip")
    if name == "deflate":
        return Decoder("deflate")
    return None
