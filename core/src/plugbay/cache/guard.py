"""A store behind a fuse: a failing backend means uncached calls, never failed ones.

The first error (Redis gone, disk full, a locked file past its timeout) logs one warning
on ``plugbay.cache`` and opens the fuse for ``backoff`` seconds, during which the store
is not tried at all: reads miss, writes are dropped, and every caller may lead.
"""

from __future__ import annotations

import logging
import time

from plugbay.cache.base import Store

__all__ = ["Guarded"]

log = logging.getLogger("plugbay.cache")


class Guarded:
    def __init__(self, store: Store, backoff: float = 30.0) -> None:
        self.store = store
        self.shared = store.shared
        self.backoff = backoff
        self.down_until = 0.0

    def _up(self) -> bool:
        return not self.down_until or time.monotonic() >= self.down_until

    def _failed(self, what: str, exc: Exception) -> None:
        self.down_until = time.monotonic() + self.backoff
        log.warning("plugbay cache: %s on the %s store failed (%s: %s); calls go on "
                    "uncached for %g s", what, type(self.store).__name__, type(exc).__name__,
                    exc, self.backoff)

    async def get(self, key: str) -> bytes | None:
        if self._up():
            try:
                return await self.store.get(key)
            except Exception as exc:
                self._failed("a read", exc)
        return None

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        if self._up():
            try:
                await self.store.set(key, value, ttl)
            except Exception as exc:
                self._failed("a write", exc)

    async def claim(self, key: str, token: str, ttl: float) -> bool:
        """``True`` (lead, uncached) when the store is down."""
        if self._up():
            try:
                return await self.store.claim(key, token, ttl)
            except Exception as exc:
                self._failed("taking a lock", exc)
        return True

    async def release(self, key: str, token: str) -> None:
        if self._up():
            try:
                await self.store.release(key, token)
            except Exception as exc:
                self._failed("releasing a lock", exc)
