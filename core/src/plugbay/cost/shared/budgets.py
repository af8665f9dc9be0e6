"""Budget counters in Redis, shared by every process (``[state] backend = "redis"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from plugbay.cost.budgets.store import Entry, MemoryStore
from plugbay.cost.shared.scripts import BUDGET_RESERVE, BUDGET_SETTLE

if TYPE_CHECKING:
    from plugbay.cost.shared import SharedState

__all__ = ["RedisBudgetStore"]


class RedisBudgetStore:
    """When Redis fails, each operation falls back to this process's ``MemoryStore`` (a
    logged degradation: limits then hold per process) rather than failing the call."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._seen: dict[str, tuple[float, float]] = {}  # last values seen, for peek()
        self._local = MemoryStore()

    def _k(self, key: str) -> str:
        return f"{self._shared.prefix}:budget:{key}"

    async def reserve(self, entries: Sequence[Entry], amount: float) -> int | None:
        keys = [self._k(k) for k, _, _ in entries]
        args = [repr(amount), *("" if lim is None else repr(lim) for _, lim, _ in entries),
                *(str(int(ttl) + 1) for _, _, ttl in entries)]
        try:
            out = await self._shared.script(BUDGET_RESERVE, keys, args)
        except self._shared.errors as exc:
            self._shared.unavailable(exc)
            return await self._local.reserve(entries, amount)
        for i, (k, _, _) in enumerate(entries):
            self._seen[k] = (float(out[1 + 2 * i]), float(out[2 + 2 * i]))
        failed = int(out[0])
        return failed - 1 if failed else None

    async def settle(self, keys: Sequence[str], reserved: float, actual: float,
                     ) -> list[float]:
        try:
            out = await self._shared.script(BUDGET_SETTLE, [self._k(k) for k in keys],
                                            [repr(reserved), repr(actual)])
        except self._shared.errors as exc:
            self._shared.unavailable(exc)
            return await self._local.settle(keys, reserved, actual)
        spent = []
        for i, k in enumerate(keys):
            s, r = float(out[2 * i]), float(out[2 * i + 1])
            self._seen[k] = (s, r)
            spent.append(s)
        return spent

    async def seed(self, key: str, spent: float, ttl: float) -> None:
        await self._local.seed(key, spent, ttl)
        redis = self._shared.redis()
        k = self._k(key)
        try:
            await redis.hsetnx(k, "spent", repr(spent))
            await redis.expire(k, int(ttl) + 1)
        except self._shared.errors as exc:
            self._shared.unavailable(exc)
        self._seen.setdefault(key, (spent, 0.0))

    def has(self, key: str) -> bool:
        return key in self._seen

    def peek(self, key: str) -> tuple[float, float]:
        return self._seen.get(key, (0.0, 0.0))

    async def read(self, key: str) -> tuple[float, float]:
        try:
            spent, held = await self._shared.redis().hmget(self._k(key), ["spent", "reserved"])
        except self._shared.errors as exc:
            self._shared.unavailable(exc)
            return await self._local.read(key)
        value = (float(spent or 0.0), float(held or 0.0))
        self._seen[key] = value
        return value

    async def aclose(self) -> None:
        return None
