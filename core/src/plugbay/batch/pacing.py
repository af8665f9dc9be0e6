"""How fast the local batch runner starts calls: an AIMD window and an RPM pacer.

``Window`` is the number of calls allowed in flight. It grows by about one per window's
worth of successes (additive increase) up to the configured concurrency, and halves on
a rate limit (multiplicative decrease). A burst of 429s from calls started before the
last cut halves it only once: those calls were sent at the old width.

``Pacer`` spaces call starts evenly, ``60 / rpm`` seconds apart, so no window of time
sees more than its share of the configured RPM (no burst at the start of a minute). A
rate limit's ``retry_after`` holds every start until it has passed.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["Pacer", "Window"]


class Window:
    """Calls allowed in flight: AIMD between 1 and ``ceiling``."""

    __slots__ = ("ceiling", "cut_at", "cuts", "limit", "low")

    def __init__(self, ceiling: int) -> None:
        if ceiling < 1:
            raise ValueError("concurrency must be at least 1")
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.low = ceiling  # the narrowest it has been
        self.cut_at = -1  # calls started before this sequence number do not cut again
        self.cuts = 0

    @property
    def width(self) -> int:
        return int(self.limit)

    def grow(self) -> None:
        if self.limit < self.ceiling:
            self.limit = min(self.ceiling, self.limit + 1.0 / self.limit)

    def cut(self, seq: int, started: int) -> None:
        """A call started as number ``seq`` met a rate limit; ``started`` calls so far."""
        if seq < self.cut_at:
            return
        self.limit = max(1.0, self.limit / 2)
        self.low = min(self.low, self.width)
        self.cut_at = started
        self.cuts += 1


class Pacer:
    """Call starts at most ``rpm`` per minute, evenly spaced; ``None``: no pacing."""

    __slots__ = ("held", "interval", "next_at")

    def __init__(self, rpm: float | None) -> None:
        if rpm is not None and rpm <= 0:
            raise ValueError("rpm must be positive")
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_at = 0.0
        self.held = 0.0  # no start before this (a server's retry_after)

    def hold(self, seconds: float) -> None:
        self.held = max(self.held, time.monotonic() + seconds)

    async def wait(self) -> None:
        now = time.monotonic()
        at = max(self.next_at, self.held)
        if at > now:
            await asyncio.sleep(at - now)
            now = time.monotonic()
        if self.interval:
            self.next_at = max(now, self.next_at) + self.interval
