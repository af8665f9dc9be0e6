"""Where budget counters live: this process (``MemoryStore``) or Redis
(``plugbay.cost.shared.RedisBudgetStore``), behind one small async interface.

A counter is ``[spent, reserved]`` per budget and period. ``reserve`` checks every
hard limit and adds the amount to every counter in one atomic step, so concurrent
calls cannot all pass the check and then overspend together.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

__all__ = ["BudgetStore", "Entry", "MemoryStore"]

# (counter key, hard limit or None for a soft budget, seconds the counter must live)
Entry = tuple[str, float | None, float]


class BudgetStore(Protocol):
    async def reserve(self, entries: Sequence[Entry], amount: float, hold: str,
                      ) -> int | None:
        """Reserve ``amount`` on every counter, or on none: the index of the first entry
        whose limit it would exceed (nothing reserved), else ``None``. ``hold`` names the
        reservation (a shared store expires it if it is never settled)."""
        ...

    async def settle(self, keys: Sequence[str], reserved: float, actual: float,
                     hold: str) -> list[float]:
        """Release the reservation ``hold`` of ``reserved`` and add ``actual``; returns
        each counter's new spend."""
        ...

    async def seed(self, key: str, spent: float, ttl: float) -> None:
        """Set a counter's spend if it does not exist yet (from the ledger at start)."""
        ...

    def has(self, key: str) -> bool:
        """Whether this process already knows ``key`` (then ``seed`` is not needed)."""
        ...

    def peek(self, key: str) -> tuple[float, float]:
        """(spent, reserved) as last seen by this process; cheap and synchronous."""
        ...

    async def read(self, key: str) -> tuple[float, float]:
        """(spent, reserved), fresh."""
        ...

    async def aclose(self) -> None:
        ...


class MemoryStore:
    """Counters in this process, under a lock (clients may run on several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c: dict[str, list[float]] = {}

    async def reserve(self, entries: Sequence[Entry], amount: float, hold: str,
                      ) -> int | None:
        with self._lock:
            c = self._c
            for i, (key, limit, _) in enumerate(entries):
                if limit is not None:
                    spent, held = c.get(key) or (0.0, 0.0)
                    if spent + held + amount > limit + 1e-12:
                        return i
            for key, _, _ in entries:
                row = c.get(key)
                if row is None:
                    c[key] = [0.0, amount]
                else:
                    row[1] += amount
            return None

    async def settle(self, keys: Sequence[str], reserved: float, actual: float,
                     hold: str) -> list[float]:
        out = []
        with self._lock:
            for key in keys:
                row = self._c.setdefault(key, [0.0, 0.0])
                row[1] = max(row[1] - reserved, 0.0)
                row[0] += actual
                out.append(row[0])
        return out

    async def seed(self, key: str, spent: float, ttl: float) -> None:
        with self._lock:
            row = self._c.get(key)
            if row is None:
                self._c[key] = [spent, 0.0]

    def has(self, key: str) -> bool:
        return key in self._c

    def peek(self, key: str) -> tuple[float, float]:
        row = self._c.get(key)
        return (row[0], row[1]) if row else (0.0, 0.0)

    async def read(self, key: str) -> tuple[float, float]:
        return self.peek(key)

    async def aclose(self) -> None:
        return None
