"""State shared by every process through Redis (``pip install 'plugbay[redis]'``): budget
counters, rate-limit windows and circuit breakers, updated with atomic Lua scripts so that
N processes never get N times a limit.

Config::

    [state]
    backend = "redis"                      # default "memory": this process only
    url = "redis://127.0.0.1:6379/0"
    prefix = "plugbay"                     # key prefix (one per deployment)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.cost.shared.budgets import RedisBudgetStore
    from plugbay.cost.shared.ratelimit import RedisLimitStore

__all__ = ["SharedState"]

log = logging.getLogger("plugbay.shared_state")


def _redis_asyncio() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:
        from plugbay.errors import ConfigError

        raise ConfigError("[state] backend = 'redis' needs redis-py: "
                          "pip install 'plugbay[redis]'", key="state.backend") from None
    return aioredis


class SharedState:
    """Redis connections (one pool per event loop: asyncio connections belong to a loop)
    and the stores built on them."""

    def __init__(self, url: str, *, prefix: str = "plugbay") -> None:
        self.url = url
        self.prefix = prefix
        self._aioredis = _redis_asyncio()
        from redis.exceptions import NoScriptError, RedisError

        self._noscript = NoScriptError
        # What a store catches to fall back to this process's own counters.
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError,
                                                        asyncio.TimeoutError)
        self._warned = 0.0
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._shas: dict[str, str] = {}

    def redis(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._aioredis.Redis.from_url(
                self.url, socket_connect_timeout=5, socket_timeout=5, health_check_interval=30)
        return client

    async def script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script by its SHA, loading it on first use (or after a flush)."""
        redis = self.redis()
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode()).hexdigest()
        try:
            return await redis.evalsha(sha, len(keys), *keys, *args)
        except self._noscript:  # first use, or the server restarted / flushed scripts
            await redis.script_load(source)
            return await redis.evalsha(sha, len(keys), *keys, *args)

    def unavailable(self, exc: BaseException) -> None:
        """Log (at most once a minute) that Redis failed and local counters are used."""
        now = time.monotonic()
        if now - self._warned > 60 or not self._warned:
            self._warned = now
            log.error("plugbay shared state: Redis at %s failed (%s: %s); budgets and rate "
                      "limits fall back to this process's own counters until it answers",
                      self._safe_url(), type(exc).__name__, exc)

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
