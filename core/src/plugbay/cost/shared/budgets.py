"""Budget counters in Redis, shared by every process (``[state] backend = "redis"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from plugbay.cost.budgets.store import Entry, MemoryStore
from plugbay.cost.shared.scripts import BUDGET_READ, BUDGET_RESERVE, BUDGET_SETTLE

if TYPE_CHECKING:
    from plugbay.cost.shared import SharedState

__all__ = ["RedisBudgetStore"]


class RedisBudgetStore:
    """When Redis fails or is backing off, each operation falls back to this process's
    ``MemoryStore`` (a logged degradation: limits then hold per process) rather than
    failing or stalling the call. A reservation is a *hold* that lapses by itself after
    ``[state] hold_ttl`` seconds, so a killed process's reservations free up."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._seen: dict[str, tuple[float, float]] = {}  # last values seen, for peek()
        self._local = MemoryStore()
        self._local_holds: set[str] = set()  # reserved here while Redis was away

    def _keys(self, keys: Sequence[str]) -> list[str]:
        out = []
        for key in keys:
            k = f"{self._shared.prefix}:budget:{key}"
            out += [k, k + ":holds"]
        return out

    async def reserve(self, entries: Sequence[Entry], amount: float, hold: str,
                      ) -> int | None:
        keys = self._keys([k for k, _, _ in entries])
        args = [repr(amount), hold or "-", str(int(self._shared.hold_ttl)),
                *("" if lim is None else repr(lim) for _, lim, _ in entries),
                *(str(int(ttl) + 1) for _, _, ttl in entries)]
        try:
            out = await self._shared.script(BUDGET_RESERVE, keys, args)
        except self._shared.errors:
            failed_here = await self._local.reserve(entries, amount, hold)
            if failed_here is None:
                self._local_holds.add(hold)
            return failed_here
        for i, (k, _, _) in enumerate(entries):
            self._seen[k] = (float(out[1 + 2 * i]), float(out[2 + 2 * i]))
        failed = int(out[0])
        return failed - 1 if failed else None

    async def settle(self, keys: Sequence[str], reserved: float, actual: float,
                     hold: str) -> list[float]:
        if hold and hold in self._local_holds:  # reserved locally: released there
            self._local_holds.discard(hold)
            await self._local.settle(keys, reserved, 0.0, hold)
        member = f"{hold}|{reserved!r}" if hold else ""
        try:
            out = await self._shared.script(BUDGET_SETTLE, self._keys(keys),
                                            [member, repr(actual)])
        except self._shared.errors:
            return await self._local.settle(keys, 0.0, actual, hold)
        spent = []
        for i, k in enumerate(keys):
            s, r = float(out[2 * i]), float(out[2 * i + 1])
            self._seen[k] = (s, r)
            spent.append(s)
        return spent

    async def seed(self, key: str, spent: float, ttl: float) -> None:
        await self._local.seed(key, spent, ttl)
        k = self._keys([key])[0]

        async def seed_counter(redis: object) -> None:
            await redis.hsetnx(k, "spent", repr(spent))  # type: ignore[attr-defined]
            await redis.expire(k, int(ttl) + 1)  # type: ignore[attr-defined]

        try:
            await self._shared.run(seed_counter)
        except self._shared.errors:
            pass
        self._seen.setdefault(key, (spent, 0.0))

    def has(self, key: str) -> bool:
        return key in self._seen

    def peek(self, key: str) -> tuple[float, float]:
        return self._seen.get(key, (0.0, 0.0))

    async def read(self, key: str) -> tuple[float, float]:
        try:
            spent, held = await self._shared.script(BUDGET_READ, self._keys([key]), [])
        except self._shared.errors:
            return await self._local.read(key)
        value = (float(spent or 0.0), float(held or 0.0))
        self._seen[key] = value
        return value

    async def aclose(self) -> None:
        return None
