"""Live per-provider-instance figures for ``Client.stats()``: requests, errors by class,
tokens, cost and latency percentiles (over the last ``window`` calls), in this process."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ProviderStats", "Stats"]


@dataclass
class ProviderStats:
    provider: str
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0  # calls whose cost is unknown (not counted in ``cost``)
    latency_p50: float | None = None
    latency_p95: float | None = None
    ttft_p50: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Live:
    __slots__ = ("cached", "cost", "errors", "inp", "lat", "out", "reasoning", "requests",
                 "ttft", "unpriced")

    def __init__(self, window: int) -> None:
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.inp = self.out = self.cached = self.reasoning = 0
        self.cost = 0.0
        self.unpriced = 0
        self.lat: deque[float] = deque(maxlen=window)
        self.ttft: deque[float] = deque(maxlen=window)


def _pct(values: deque[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(int(q * len(s)), len(s) - 1)]


class Stats:
    def __init__(self, window: int = 2048) -> None:
        self.window = window
        self._by: dict[str, _Live] = {}
        self._lock = threading.Lock()

    def observe(self, provider: str, latency: float | None, ttft: float | None,
                error: str | None, inp: int, out: int, cached: int, reasoning: int,
                cost: float | None) -> None:
        with self._lock:
            live = self._by.get(provider)
            if live is None:
                live = self._by[provider] = _Live(self.window)
            live.requests += 1
            if error is not None:
                live.errors[error] = live.errors.get(error, 0) + 1
            live.inp += inp
            live.out += out
            live.cached += cached
            live.reasoning += reasoning
            if cost is None:
                if error is None:
                    live.unpriced += 1
            else:
                live.cost += cost
            if latency is not None and error is None:
                live.lat.append(latency)
            if ttft is not None:
                live.ttft.append(ttft)

    def snapshot(self) -> dict[str, ProviderStats]:
        with self._lock:
            return {p: ProviderStats(p, v.requests, dict(v.errors), v.inp, v.out, v.cached,
                                     v.reasoning, v.cost, v.unpriced, _pct(v.lat, 0.5),
                                     _pct(v.lat, 0.95), _pct(v.ttft, 0.5))
                    for p, v in sorted(self._by.items())}

    def reset(self) -> None:
        with self._lock:
            self._by.clear()
