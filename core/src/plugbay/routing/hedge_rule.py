"""When a route hedges: ``hedge = "p90"`` (the first target's 90th-percentile latency, or
time to first event for streams, over its last 64 calls) or a number of seconds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["MIN_SAMPLES", "HedgeRule"]

MIN_SAMPLES = 5  # below this, the percentile is not trusted: ``hedge_after`` is used
_PCT = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


class HedgeRule:
    __slots__ = ("after", "percentile", "seconds")

    def __init__(self, percentile: float | None, seconds: float | None, after: float) -> None:
        self.percentile = percentile
        self.seconds = seconds
        self.after = after

    @classmethod
    def of(cls, value: Any, after: float) -> HedgeRule | None:
        """The rule for a route's ``hedge`` value (``None``: the route does not hedge)."""
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return cls(None, float(value), after)
        m = _PCT.match(str(value).strip().lower())
        if m and 0 < float(m.group(1)) < 100:
            return cls(float(m.group(1)), None, after)
        raise ValueError(f"hedge must be a latency percentile such as 'p90' or a number of "
                         f"seconds above 0 (got {value!r})")

    def delay(self, recent: Sequence[float]) -> float:
        """Seconds to wait for the first target before starting the next one."""
        if self.seconds is not None:
            return self.seconds
        if len(recent) < MIN_SAMPLES:
            return self.after
        ordered = sorted(recent)
        assert self.percentile is not None
        i = min(len(ordered) - 1, int(len(ordered) * self.percentile / 100))
        return ordered[i]

    def __repr__(self) -> str:
        what = f"p{self.percentile:g}" if self.percentile is not None else f"{self.seconds} s"
        return f"HedgeRule({what}, after={self.after})"
