"""An incremental decoder for the AWS event stream framing (``application/vnd.amazon.eventstream``).

Pure: bytes in (any chunking), whole messages out. Each message is::

    [total length u32][headers length u32][prelude CRC32 u32]   -- the 12-byte prelude
    [headers][payload][message CRC32 u32]                        -- CRC of all bytes before it

all integers big-endian. A header is ``[name length u8][name][type u8][value]``; the ten
value types are bool true (0), bool false (1), byte (2), short (3), int (4), long (5),
bytes (6, u16 length), string (7, u16 length), timestamp (8, ms since the epoch, i64)
and uuid (9, 16 bytes). A frame whose lengths or CRCs do not check out raises
``EventStreamError`` (a ``StreamError``): a corrupt stream is never silently skipped.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from plugbay.errors import StreamError

__all__ = ["EventStreamDecoder", "EventStreamError", "Message", "decode_headers"]

_PRELUDE = 12
_CRC = 4
_MIN_FRAME = _PRELUDE + _CRC
# The service limits messages to 16 MiB (headers to 128 KiB); past that the length
# field itself is corrupt, and waiting for that many bytes would look like a hang.
MAX_MESSAGE = 16 * 1024 * 1024
MAX_HEADERS = 128 * 1024

_FIXED = {2: (1, ">b"), 3: (2, ">h"), 4: (4, ">i"), 5: (8, ">q"), 8: (8, ">q")}


class EventStreamError(StreamError):
    """The event stream framing is corrupt (bad length, CRC or header)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded frame: its headers (name -> value) and raw payload bytes."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def message_type(self) -> str | None:
        value = self.headers.get(":message-type")
        return value if isinstance(value, str) else None

    @property
    def event_type(self) -> str | None:
        for name in (":event-type", ":exception-type", ":error-code"):
            value = self.headers.get(name)
            if isinstance(value, str):
                return value
        return None


def decode_headers(data: bytes) -> dict[str, Any]:
    """Parse a frame's header block; raise ``EventStreamError`` on a malformed one."""
    out: dict[str, Any] = {}
    pos, end = 0, len(data)
    try:
        while pos < end:
            size = data[pos]
            pos += 1
            name = data[pos:pos + size].decode("utf-8")
            if len(name.encode()) != size or not size:
                raise EventStreamError("event stream header name truncated")
            pos += size
            kind = data[pos]
            pos += 1
            value: Any
            if kind in (0, 1):
                value = kind == 0
            elif kind in _FIXED:
                width, fmt = _FIXED[kind]
                if pos + width > end:
                    raise EventStreamError("event stream header value truncated")
                value = struct.unpack_from(fmt, data, pos)[0]
                pos += width
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", data, pos)
                pos += 2
                raw = data[pos:pos + length]
                if len(raw) != length:
                    raise EventStreamError("event stream header value truncated")
                value = raw.decode("utf-8") if kind == 7 else bytes(raw)
                pos += length
            elif kind == 9:
                raw = data[pos:pos + 16]
                if len(raw) != 16:
                    raise EventStreamError("event stream header value truncated")
                value = uuid.UUID(bytes=bytes(raw))
                pos += 16
            else:
                raise EventStreamError(f"unknown event stream header type {kind}")
            out[name] = value
    except (IndexError, struct.error, UnicodeDecodeError):
        raise EventStreamError("malformed event stream headers") from None
    return out


class EventStreamDecoder:
    """Feed raw bytes as they arrive; get back every message completed by them."""

    __slots__ = ("_buf", "frames")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0  # messages decoded so far

    @property
    def pending(self) -> int:
        """Bytes held of a message not yet complete (non-zero at EOF means a cut stream)."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[Message]:
        self._buf += chunk
        out: list[Message] = []
        while len(self._buf) >= _PRELUDE:
            total, hlen, crc = struct.unpack_from(">III", self._buf, 0)
            if zlib.crc32(self._buf[:8]) != crc:
                raise EventStreamError("event stream prelude CRC mismatch")
            if total < _MIN_FRAME or total > MAX_MESSAGE or hlen > MAX_HEADERS \
                    or _PRELUDE + hlen + _CRC > total:
                raise EventStreamError(f"event stream frame has bad lengths ({total}, {hlen})")
            if len(self._buf) < total:
                break  # the rest of this frame is still on its way
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            (message_crc,) = struct.unpack_from(">I", frame, total - _CRC)
            if zlib.crc32(frame[:total - _CRC]) != message_crc:
                raise EventStreamError("event stream message CRC mismatch")
            headers = decode_headers(frame[_PRELUDE:_PRELUDE + hlen])
            out.append(Message(headers, frame[_PRELUDE + hlen:total - _CRC]))
            self.frames += 1
        return out
