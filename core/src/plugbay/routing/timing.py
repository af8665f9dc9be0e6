"""Time limits of one attempt: the smaller of two limits, what is left before a
deadline, the next stream event within a wait, and closing a stream that failed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from plugbay import errors
from plugbay._aio import close_quietly
from plugbay._aio import within as _timeout

if TYPE_CHECKING:
    from plugbay.types import StreamEvent

__all__ = ["close_quietly", "min_limit", "next_event", "time_left"]

_perf = time.perf_counter


def min_limit(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a < b else b


def time_left(limit: float | None, end: float | None) -> float | None:
    if end is None:
        return limit
    left = end - _perf()
    left = left if left > 0 else 0.0
    return left if limit is None or left < limit else limit


async def next_event(events: AsyncIterator[StreamEvent], wait: float | None, what: str,
                provider: str) -> StreamEvent:
    if wait is None:
        return await events.__anext__()
    try:
        async with _timeout(wait):
            return await events.__anext__()
    except TimeoutError:
        raise errors.TimeoutError(f"no {what} within {wait:.3g} s", provider=provider) from None
