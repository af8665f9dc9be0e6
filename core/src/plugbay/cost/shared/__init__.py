"""State shared by every process through Redis (``pip install 'plugbay[redis]'``): budget
counters, rate-limit windows and circuit breakers, updated with atomic Lua scripts so that
N processes never get N times a limit.

Config::

    [state]
    backend = "redis"                      # default "memory": this process only
    url = "redis://127.0.0.1:6379/0"
    prefix = "plugbay"                     # key prefix (one per deployment)
    timeout = 1.0                          # seconds per Redis round trip
    backoff = 10                           # seconds on local counters after a failure
    hold_ttl = 600                         # seconds before an unsettled reservation lapses

Redis is never allowed to stall a call: every round trip has its own short ``timeout``
(and never outlasts the call's own deadline, which is longer). When one fails, this
process logs one warning, uses its own counters, and does not try Redis again until
``backoff`` seconds have passed; the first success after that logs that it is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from plugbay._aio import within

if TYPE_CHECKING:
    from plugbay.cost.shared.budgets import RedisBudgetStore
    from plugbay.cost.shared.ratelimit import RedisLimitStore

__all__ = ["SharedState", "Unavailable"]

log = logging.getLogger("plugbay.shared_state")
T = TypeVar("T")


class Unavailable(Exception):
    """Redis failed a moment ago: local counters are used until the back-off ends."""


def _redis_asyncio() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:
        from plugbay.errors import ConfigError

        raise ConfigError("[state] backend = 'redis' needs redis-py: "
                          "pip install 'plugbay[redis]'", key="state.backend") from None
    return aioredis


_POOL = 64  # Redis connections per process and event loop


class SharedState:
    """Redis connections (one pool per event loop: asyncio connections belong to a loop)
    and the stores built on them."""

    def __init__(self, url: str, *, prefix: str = "plugbay", timeout: float = 1.0,
                 backoff: float = 10.0, hold_ttl: float = 600.0) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.backoff = backoff
        self.hold_ttl = hold_ttl
        self._aioredis = _redis_asyncio()
        from redis.exceptions import NoScriptError, RedisError

        self._noscript = NoScriptError
        # What a store catches to fall back to this process's own counters.
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError,
                                                        asyncio.TimeoutError, Unavailable)
        self._down_until = 0.0  # monotonic time the back-off ends; 0 while Redis answers
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._shas: dict[str, str] = {}

    def redis(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            wait = max(self.timeout, 0.05)
            # A blocking pool: under many concurrent calls an op waits (within the
            # deadline) for a connection, rather than failing at once ("Too many
            # connections") and falling back to per-process counters.
            pool = self._aioredis.BlockingConnectionPool.from_url(
                self.url, max_connections=_POOL, timeout=wait, socket_connect_timeout=wait,
                socket_timeout=wait, health_check_interval=30)
            client = self._clients[loop] = self._aioredis.Redis(connection_pool=pool)
        return client

    async def run(self, op: Callable[[Any], Awaitable[T]]) -> T:
        """``op(redis)`` within ``timeout``; raises one of ``errors`` (at once while backing
        off) for the caller to fall back on."""
        if self._down_until and time.monotonic() < self._down_until:
            raise Unavailable(self._safe_url())
        try:
            async with within(self.timeout):
                result = await op(self.redis())
        except self.errors as exc:
            self.unavailable(exc)
            raise
        if self._down_until:
            self._down_until = 0.0
            log.warning("plugbay shared state: Redis at %s answers again; budgets and rate "
                        "limits are shared once more", self._safe_url())
        return result

    async def script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script by its SHA, loading it on first use (or after a flush)."""
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode()).hexdigest()

        async def call(redis: Any) -> Any:
            try:
                return await redis.evalsha(sha, len(keys), *keys, *args)
            except self._noscript:  # first use, or the server restarted / flushed scripts
                await redis.script_load(source)
                return await redis.evalsha(sha, len(keys), *keys, *args)

        return await self.run(call)

    def unavailable(self, exc: BaseException) -> None:
        """Start a back-off; log one warning per outage (not one per call)."""
        if isinstance(exc, Unavailable):
            return
        first = not self._down_until
        self._down_until = time.monotonic() + self.backoff
        if first:
            timed_out = isinstance(exc, (TimeoutError, asyncio.TimeoutError))
            why = (f"no answer within {self.timeout:g} s" if timed_out
                   else f"{type(exc).__name__}: {exc}")
            log.warning("plugbay shared state: Redis at %s failed (%s); budgets and rate "
                        "limits fall back to this process's own counters, and Redis is "
                        "tried again after %g s", self._safe_url(), why, self.backoff)

    def _safe_url(self) -> str:
        scheme, sep, rest = self.url.partition("://")
        return scheme + sep + rest.rpartition("@")[2]

    def budget_store(self) -> RedisBudgetStore:
        from plugbay.cost.shared.budgets import RedisBudgetStore

        return RedisBudgetStore(self)

    def limit_store(self) -> RedisLimitStore:
        from plugbay.cost.shared.ratelimit import RedisLimitStore

        return RedisLimitStore(self)

    async def aclose(self) -> None:
        """Close this loop's connections (and stop its breaker refresher)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()
            await client.connection_pool.disconnect()
