"""Rate-limit counters in Redis, shared by every process (``[state] backend = "redis"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugbay.cost.ratelimit import LimitSpec, MemoryLimitStore
from plugbay.cost.shared.scripts import LIMIT_ACQUIRE

if TYPE_CHECKING:
    from plugbay.cost.shared import SharedState

__all__ = ["RedisLimitStore"]


class RedisLimitStore:
    """Falls back to this process's ``MemoryLimitStore`` while Redis fails (logged)."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._seen: dict[str, tuple[int, int, float]] = {}
        self._local = MemoryLimitStore()

    def _keys(self, key: str) -> list[str]:
        p = f"{self._shared.prefix}:rl:{key}"
        return [f"{p}:req", f"{p}:tok", f"{p}:block"]

    async def acquire(self, key: str, spec: LimitSpec, tokens: int,
                      ) -> tuple[int | None, float]:
        try:
            out = await self._shared.script(LIMIT_ACQUIRE, self._keys(key),
                                            [spec.rpm, spec.tpm, tokens])
        except self._shared.errors:
            second, wait = await self._local.acquire(key, spec, tokens)
            return (-second if second is not None else None), wait  # negative: local bucket
        second, wait = int(out[0]), float(out[1])
        blocked = self._seen.get(key, (0, 0, 0.0))[2]
        self._seen[key] = (int(out[2]), int(out[3]), blocked)
        return (second, 0.0) if second else (None, wait)

    async def adjust(self, key: str, second: int, delta: int) -> None:
        if second < 0:
            await self._local.adjust(key, -second, delta)
            return
        field, name = str(second), self._keys(key)[1]
        try:
            await self._shared.run(lambda redis: redis.hincrby(name, field, delta))
        except self._shared.errors:
            pass  # the window's count stays as estimated

    async def block(self, key: str, until: float) -> None:
        import time

        ms = int((until - time.time()) * 1000)
        if ms > 0:
            await self._local.block(key, until)
            name = self._keys(key)[2]
            try:
                await self._shared.run(lambda redis: redis.set(name, repr(until), px=ms))
            except self._shared.errors:
                pass  # blocked here; other processes learn it from their own 429s
            r, t, _ = self._seen.get(key, (0, 0, 0.0))
            self._seen[key] = (r, t, until)

    def usage(self, key: str) -> tuple[int, int, float]:
        return self._seen.get(key, (0, 0, 0.0))

    async def aclose(self) -> None:
        return None
