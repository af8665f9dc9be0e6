"""What a streamed fake reply is made of: data parts, ``Pause`` s and at most one
``Cut``; and how the builders in ``replies.py`` turn the caller's items into them (SSE
events, NDJSON lines, interleaved with delays, a stall and a cut).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["CUT", "Cut", "Part", "Pause", "compose", "dumps", "ndjson_line", "sse_event"]


@dataclass(frozen=True, slots=True)
class Pause:
    """In a streamed reply: send nothing for ``seconds`` (after flushing what came before)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Cut:
    """In a streamed reply: close the connection here, without the terminating chunk."""


CUT = Cut()
Part: TypeAlias = bytes | Pause | Cut


def dumps(obj: Any) -> str:
    # Compact like most providers; a compact dump never holds a raw newline.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def compose(
    items: Sequence[bytes | Pause],
    chunk_delay: float,
    stall_after: int | None,
    stall: float,
    cut_after: int | None,
) -> tuple[Part, ...]:
    """Interleave data items with pauses and faults; the counts are of data items only."""
    total = sum(1 for it in items if isinstance(it, bytes))
    for name, n in (("stall_after", stall_after), ("cut_after", cut_after)):
        if n is not None and not 0 <= n <= total:
            raise ValueError(f"{name} must be between 0 and {total}, got {n}")
    parts: list[Part] = []
    sent = 0

    def after_data() -> bool:
        if sent == stall_after:
            parts.append(Pause(stall))
        if sent == cut_after:
            parts.append(CUT)
            return True
        return False

    if after_data():
        return tuple(parts)
    for item in items:
        if isinstance(item, Pause):
            parts.append(item)
            continue
        if sent and chunk_delay:
            parts.append(Pause(chunk_delay))
        parts.append(item)
        sent += 1
        if after_data():
            break
    return tuple(parts)


def sse_event(item: Any, crlf: bool) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, (dict, list)):
        event = f"data: {dumps(item)}\n\n"
        return (event.replace("\n", "\r\n") if crlf else event).encode()
    raise TypeError(f"an SSE event is a dict, str or bytes, not {type(item).__name__}")


def ndjson_line(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return (item if item.endswith("\n") else item + "\n").encode()
    if isinstance(item, (dict, list)):
        return (dumps(item) + "\n").encode()
    raise TypeError(f"an NDJSON line is a dict, str or bytes, not {type(item).__name__}")
