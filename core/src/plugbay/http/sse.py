"""Incremental parsers for Server-Sent Events and NDJSON bodies.

Both are fed raw byte chunks as they arrive and give back whole events at once,
so the first token reaches the caller as soon as the server sends it. The SSE
parser follows the WHATWG rules: ``event``/``data``/``id``/``retry`` fields,
comment lines, multi-line data, CRLF/CR/LF endings (even split across chunks)
and a field with no space after the colon.

Each holds at most ``max_event`` characters of one event or line (``Limits.max_event``,
8 MiB by default): an upstream that never ends its line gets ``ResponseTooLargeError``
instead of all the memory. The accounting is integer adds on lengths already at hand.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from typing import Any

from plugbay.errors import ResponseTooLargeError
from plugbay.http.models import DEFAULT_MAX_EVENT

__all__ = ["NDJSONDecoder", "SSEDecoder", "ServerSentEvent", "aiter_ndjson", "aiter_sse"]


class ServerSentEvent:
    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, data: str, event: str = "message", id: str | None = None,
                 retry: int | None = None) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def json(self) -> Any:
        return json.loads(self.data)

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r})"


class SSEDecoder:
    """Feed bytes, get complete events. ``comments`` counts comment lines seen."""

    __slots__ = ("_buf", "_data", "_decoder", "_event", "_id", "_retry", "_size", "comments",
                 "max_event")

    def __init__(self, max_event: int = DEFAULT_MAX_EVENT) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = ""
        self._event = ""
        self._data: list[str] = []
        self._size = 0  # characters of data in the pending event
        self._id: str | None = None
        self._retry: int | None = None
        self.comments = 0
        self.max_event = max_event

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._buf + self._decoder.decode(chunk)
        hold = ""
        if "\r" in text:
            if text.endswith("\r"):  # may be the first half of a CRLF split across chunks
                text, hold = text[:-1], "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        self._buf = lines.pop() + hold
        out: list[ServerSentEvent] = []
        for line in lines:
            if line:
                self._line(line)
            elif self._data or self._event:
                out.append(self._dispatch())
        if self._size + len(self._buf) > self.max_event:  # an event that does not end
            raise _too_large("an SSE event", self.max_event)
        return out

    def close(self) -> list[ServerSentEvent]:
        """At EOF: a pending event whose last line was complete is still delivered."""
        tail = self._buf.replace("\r", "")
        self._buf = ""
        if tail:  # an unterminated line is a cut-off stream: drop it, as the spec says
            return []
        return [self._dispatch()] if self._data else []

    def _line(self, line: str) -> None:
        if line[0] == ":":
            self.comments += 1
            return
        field, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._size += len(value) + 1
        elif field == "event":
            self._event = value
        elif field == "id":
            self._id = value
        elif field == "retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> ServerSentEvent:
        if self._size > self.max_event:
            raise _too_large("an SSE event", self.max_event)
        self._size = 0
        event = ServerSentEvent("\n".join(self._data), self._event or "message", self._id,
                                self._retry)
        self._data = []
        self._event = ""
        return event


class NDJSONDecoder:
    """Feed bytes, get parsed JSON values, one per non-blank line."""

    __slots__ = ("_buf", "max_event")

    def __init__(self, max_event: int = DEFAULT_MAX_EVENT) -> None:
        self._buf = b""
        self.max_event = max_event

    def feed(self, chunk: bytes) -> list[Any]:
        data = self._buf + chunk
        lines = data.split(b"\n")
        self._buf = lines.pop()
        limit = self.max_event
        # Whole lines are measured only when together they could hold one over the limit.
        if len(self._buf) > limit or (len(data) - len(self._buf) > limit and any(
                len(line) > limit for line in lines)):
            raise _too_large("an NDJSON line", limit)
        return [json.loads(line) for line in lines if line.strip()]

    def close(self) -> list[Any]:
        tail, self._buf = self._buf, b""
        return [json.loads(tail)] if tail.strip() else []


def _too_large(what: str, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(what, limit=limit, setting="max_event")


async def aiter_sse(chunks: AsyncIterator[bytes], max_event: int = DEFAULT_MAX_EVENT,
                    ) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder(max_event)
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


async def aiter_ndjson(chunks: AsyncIterator[bytes], max_event: int = DEFAULT_MAX_EVENT,
                       ) -> AsyncIterator[Any]:
    decoder = NDJSONDecoder(max_event)
    async for chunk in chunks:
        for value in decoder.feed(chunk):
            yield value
    for value in decoder.close():
        yield value
