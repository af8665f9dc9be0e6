"""The shared cache store: Redis, seen by every process on every host that points at it.

Entries live under ``<prefix>:cache:<namespace>:<key>`` with Redis's own expiry; the
single-flight lock of a key is ``<prefix>:cache:<namespace>:lock:<key>``, taken with
``SET NX PX`` (in a script that also lets its holder extend it) and dropped only by its
holder. redis-py is imported when the store is built, and each event loop gets its own
connection pool (asyncio connections belong to the loop that opened them). Timeouts are
short and there are no retries: when Redis is away the layer goes on uncached.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["RedisStore"]

_CLAIM = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _redis_asyncio() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:
        from plugbay.errors import ConfigError

        raise ConfigError("backend = 'redis' needs redis-py: pip install 'plugbay[redis]'",
                          key="cache.backend") from None
    return aioredis


class RedisStore:
    shared = True

    def __init__(self, url: str, *, namespace: str = "default", prefix: str = "plugbay",
                 timeout: float = 1.0) -> None:
        self._aioredis = _redis_asyncio()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._retry = Retry(NoBackoff(), 0)
        self.url = url
        self.timeout = timeout
        self.prefix = f"{prefix}:cache:{namespace}:"
        self._loops: dict[asyncio.AbstractEventLoop, tuple[Any, Any, Any]] = {}

    def _client(self) -> tuple[Any, Any, Any]:
        loop = asyncio.get_running_loop()
        made = self._loops.get(loop)
        if made is None:
            client = self._aioredis.Redis.from_url(
                self.url, socket_connect_timeout=self.timeout, socket_timeout=self.timeout,
                retry=self._retry)
            made = self._loops[loop] = (client, client.register_script(_CLAIM),
                                        client.register_script(_RELEASE))
        return made

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._client()[0].get(self.prefix + key)
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        px = None if ttl is None else max(int(ttl * 1000), 1)
        await self._client()[0].set(self.prefix + key, value, px=px)

    async def claim(self, key: str, token: str, ttl: float) -> bool:
        held = await self._client()[1](keys=[f"{self.prefix}lock:{key}"],
                                        args=[token, max(int(ttl * 1000), 1)])
        return bool(held)

    async def release(self, key: str, token: str) -> None:
        await self._client()[2](keys=[f"{self.prefix}lock:{key}"], args=[token])

    async def aclose(self) -> None:
        """Close this loop's connections (those of other loops go with their loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        made = self._loops.pop(loop, None)
        if made is not None:
            await made[0].aclose()
