"""What the fake upstream server sends back for one request: the ``Reply`` builders.

A ``Reply`` is plain immutable data; ``plugbay.testing.server`` puts it on the wire.
Bodies are encoded when the reply is built, so serving one is cheap and every request
that gets the same reply sees the same bytes. Streamed replies are a sequence of parts
(each sent as its own HTTP chunk), ``Pause`` s and at most one cut: ``stream_parts.py``,
whose ``Pause`` and ``Cut`` are importable from here too.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

from plugbay.testing.stream_parts import (
    Cut,
    Part,
    Pause,
    compose,
    dumps,
    ndjson_line,
    sse_event,
)

__all__ = ["Cut", "HeadersArg", "Pause", "Reply"]

HeadersArg: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]] | None
Kind: TypeAlias = Literal["body", "stream", "stall", "drop", "reset", "truncated"]


def _gzip(data: bytes) -> bytes:
    # wbits=31 writes the gzip container (header with mtime 0, so output is deterministic).
    comp = zlib.compressobj(wbits=31)
    return comp.compress(data) + comp.flush()


def _merge(defaults: list[tuple[str, str]], user: HeadersArg) -> tuple[tuple[str, str], ...]:
    """The defaults, except those the caller names; then the caller's headers, duplicates kept."""
    if user is None:
        return tuple(defaults)
    pairs = list(user.items()) if isinstance(user, Mapping) else [(k, v) for k, v in user]
    named = {k.lower() for k, _ in pairs}
    return tuple([(k, v) for k, v in defaults if k.lower() not in named] + pairs)


_reasons: dict[int, str] = {}


def _reason(status: int) -> str:
    reason = _reasons.get(status)
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        _reasons[status] = reason
    return reason


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _check(status: int, delay: float) -> None:
    if not 100 <= status <= 999:
        raise ValueError(f"status must be a 3-digit HTTP status, got {status}")
    if delay < 0:
        raise ValueError("delay must be >= 0")


@dataclass(frozen=True, slots=True)
class Reply:
    """One response (or fault). Build it with the static methods, e.g. ``Reply.json({...})``.

    ``delay`` sleeps before the status line; ``gzip`` encodes the body (streamed bodies
    incrementally, one sync flush per part, so each part still decodes on arrival).
    """

    kind: Kind
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    parts: tuple[Part, ...] = ()
    delay: float = 0.0
    gzip: bool = False
    seconds: float = 0.0  # how long a "stall" lasts
    claim: int = 0  # the Content-Length a "truncated" reply declares

    def head(self, framing: Sequence[tuple[str, str]] = ()) -> bytes:
        """Status line and headers; a framing header the reply sets itself wins."""
        lines = [f"HTTP/1.1 {self.status} {_reason(self.status)}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if framing:
            named = {k.lower() for k, _ in self.headers}
            lines += [f"{k}: {v}" for k, v in framing if k.lower() not in named]
        lines.append("\r\n")
        return "\r\n".join(lines).encode()

    def wire_chunks(self) -> Iterator[bytes | Pause | Cut]:
        """A streamed body as sent: framed chunks (gzip applied part by part), pauses, a cut."""
        comp = zlib.compressobj(wbits=31) if self.gzip else None
        for part in self.parts:
            if isinstance(part, bytes):
                # A sync flush per part lets the client decode each part as it arrives.
                data = comp.compress(part) + comp.flush(zlib.Z_SYNC_FLUSH) if comp else part
                if data:  # an empty chunk would end the body
                    yield _chunk(data)
            else:
                yield part
                if isinstance(part, Cut):
                    return
        yield (_chunk(comp.flush()) if comp else b"") + b"0\r\n\r\n"

    # -- whole bodies, sent with Content-Length ---------------------------------------

    @staticmethod
    def json(
        obj: Any,
        *,
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        gzip: bool = False,
    ) -> Reply:
        """A JSON body (compact), ``application/json``."""
        return Reply.raw(
            dumps(obj).encode(),
            content_type="application/json",
            status=status,
            headers=headers,
            delay=delay,
            gzip=gzip,
        )

    @staticmethod
    def text(
        text: str,
        content_type: str = "text/plain",
        *,
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        gzip: bool = False,
    ) -> Reply:
        """A UTF-8 text body."""
        return Reply.raw(
            text.encode(),
            content_type=content_type,
            status=status,
            headers=headers,
            delay=delay,
            gzip=gzip,
        )

    @staticmethod
    def raw(
        body: bytes,
        content_type: str = "application/octet-stream",
        *,
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        gzip: bool = False,
    ) -> Reply:
        """Exactly these bytes (gzip-encoded first if ``gzip``)."""
        _check(status, delay)
        defaults = [("Content-Type", content_type)]
        if gzip:
            body = _gzip(body)
            defaults.append(("Content-Encoding", "gzip"))
        return Reply("body", status, _merge(defaults, headers), body, delay=delay)

    # -- streamed bodies, chunked transfer-encoding, one chunk per item ----------------

    @staticmethod
    def chunks(
        parts: Iterable[bytes | str | Pause],
        *,
        content_type: str = "application/octet-stream",
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        gzip: bool = False,
        stall_after: int | None = None,
        stall: float = 0.0,
        cut_after: int | None = None,
    ) -> Reply:
        """A generic streamed body: each bytes/str part is one chunk; ``Pause`` waits."""
        items = [p.encode() if isinstance(p, str) else p for p in parts]
        return Reply._stream(
            items, content_type, 0.0, status, headers, delay, gzip, stall_after, stall, cut_after
        )

    @staticmethod
    def sse(
        events: Iterable[Any],
        *,
        chunk_delay: float = 0.0,
        crlf: bool = False,
        content_type: str = "text/event-stream",
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        gzip: bool = False,
        stall_after: int | None = None,
        stall: float = 0.0,
        cut_after: int | None = None,
    ) -> Reply:
        """Server-sent events. A dict becomes ``data: <json>\\n\\n``; str/bytes go verbatim.

        No ``[DONE]`` is added. After ``stall_after`` events the stream goes quiet for
        ``stall`` seconds, then carries on; after ``cut_after`` events the connection is
        closed without the terminating chunk.
        """
        items = [sse_event(e, crlf) for e in events]
        return Reply._stream(
            items, content_type, chunk_delay, status, headers, delay, gzip,
            stall_after, stall, cut_after,
        )  # fmt: skip

    @staticmethod
    def ndjson(
        lines: Iterable[Any],
        *,
        chunk_delay: float = 0.0,
        content_type: str = "application/x-ndjson",
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        gzip: bool = False,
        stall_after: int | None = None,
        stall: float = 0.0,
        cut_after: int | None = None,
    ) -> Reply:
        """Newline-delimited JSON: each dict (compact JSON) or str is one line, one chunk."""
        items = [ndjson_line(line) for line in lines]
        return Reply._stream(
            items, content_type, chunk_delay, status, headers, delay, gzip,
            stall_after, stall, cut_after,
        )  # fmt: skip

    @staticmethod
    def eventstream(
        frames: Iterable[bytes],
        content_type: str = "application/vnd.amazon.eventstream",
        chunk_delay: float = 0.0,
        *,
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
        stall_after: int | None = None,
        stall: float = 0.0,
        cut_after: int | None = None,
    ) -> Reply:
        """Binary frames (AWS event stream, built by the caller), each its own chunk."""
        return Reply._stream(
            list(frames), content_type, chunk_delay, status, headers, delay, False,
            stall_after, stall, cut_after,
        )  # fmt: skip

    @staticmethod
    def _stream(
        items: Sequence[bytes | Pause],
        content_type: str,
        chunk_delay: float,
        status: int,
        headers: HeadersArg,
        delay: float,
        gzip: bool,
        stall_after: int | None,
        stall: float,
        cut_after: int | None,
    ) -> Reply:
        _check(status, delay)
        for item in items:
            if not isinstance(item, (bytes, Pause)):
                raise TypeError(f"a streamed part is bytes, str or Pause, not {item!r}")
        defaults = [("Content-Type", content_type)]
        if gzip:
            defaults.append(("Content-Encoding", "gzip"))
        parts = compose(items, chunk_delay, stall_after, stall, cut_after)
        hdrs = _merge(defaults, headers)
        return Reply("stream", status, hdrs, parts=parts, delay=delay, gzip=gzip)

    # -- faults -------------------------------------------------------------------------

    @staticmethod
    def stall(seconds: float) -> Reply:
        """Read the request, send nothing for ``seconds``, then close the connection."""
        _check(200, seconds)
        return Reply("stall", seconds=seconds)

    @staticmethod
    def drop(*, delay: float = 0.0) -> Reply:
        """Close the connection (FIN) without sending any response."""
        _check(200, delay)
        return Reply("drop", delay=delay)

    @staticmethod
    def reset(*, delay: float = 0.0) -> Reply:
        """Abort the connection with a TCP RST (SO_LINGER 0) without any response."""
        _check(200, delay)
        return Reply("reset", delay=delay)

    @staticmethod
    def truncated(
        body: bytes,
        claim: int | None = None,
        *,
        content_type: str = "application/json",
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
    ) -> Reply:
        """Declare ``Content-Length: claim`` (default: 100 more than sent), send ``body``, close."""
        _check(status, delay)
        claim = len(body) + 100 if claim is None else claim
        if claim <= len(body):
            raise ValueError("claim must be larger than len(body)")
        hdrs = _merge([("Content-Type", content_type)], headers)
        return Reply("truncated", status, hdrs, body, delay=delay, claim=claim)

    @staticmethod
    def bad_gzip(
        body: bytes,
        *,
        content_type: str = "application/json",
        status: int = 200,
        headers: HeadersArg = None,
        delay: float = 0.0,
    ) -> Reply:
        """Claim ``Content-Encoding: gzip`` but send ``body`` as it is."""
        _check(status, delay)
        defaults = [("Content-Type", content_type), ("Content-Encoding", "gzip")]
        return Reply("body", status, _merge(defaults, headers), body, delay=delay)
