"""The JSON-array framing of ``streamGenerateContent`` without ``alt=sse``.

The server then streams one JSON array, ``[{...}\\r\\n,\\r\\n{...}]``, with
``Content-Type: application/json``; ``JSONArrayDecoder`` hands out each element as
soon as its closing brace arrives, and holds at most ``max_event`` characters of an
unfinished one (``plugbay.http.models.Limits``): an element that never closes raises
``ResponseTooLargeError`` instead of taking all the memory.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from plugbay.errors import ResponseTooLargeError
from plugbay.http.models import DEFAULT_MAX_EVENT

__all__ = ["JSONArrayDecoder"]


class JSONArrayDecoder:
    """Incremental parser for ``[{...}\\r\\n,\\r\\n{...}]``: whole objects as they complete."""

    def __init__(self, max_event: int = DEFAULT_MAX_EVENT) -> None:
        self.max_event = max_event
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = ""
        self._pos = 0  # scan position inside the current object
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._start = -1

    def feed(self, chunk: bytes | str) -> list[Any]:
        # An incremental decoder: a multi-byte character may be split across chunks.
        self._buf += self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        out: list[Any] = []
        buf, i = self._buf, self._pos
        while i < len(buf):
            ch = buf[i]
            if self._start < 0:
                if ch == "{":
                    self._start, self._depth = i, 1
                elif ch not in "[], \t\r\n":
                    raise ValueError(f"unexpected {ch!r} between array items")
            elif self._in_string:
                if self._escaped:
                    self._escaped = False
                elif ch == "\\":
                    self._escaped = True
                elif ch == '"':
                    self._in_string = False
            elif ch == '"':
                self._in_string = True
            elif ch == "{":
                self._depth += 1
            elif ch == "}":
                self._depth -= 1
                if self._depth == 0:
                    out.append(json.loads(buf[self._start:i + 1]))
                    buf, i, self._start = buf[i + 1:], -1, -1
            i += 1
        if self._start > 0:  # keep only the unfinished object
            buf, i = buf[self._start:], i - self._start
            self._start = 0
        elif self._start < 0:
            buf, i = "", 0
        self._buf, self._pos = buf, i
        if len(buf) > self.max_event:  # only an unfinished element is left in it
            raise ResponseTooLargeError("a streamed JSON array element", limit=self.max_event,
                                        setting="max_event")
        return out

    @property
    def pending(self) -> bool:
        """True when an object was started but not finished (a cut-off stream)."""
        return self._start >= 0
