"""Circuit breakers shared through Redis: a failure counts for every process, and a
circuit one process opens is open for all of them until its cooldown ends.

The router calls its breakers synchronously on its event loop, so Redis is never awaited
on that path: failures are sent in the background, and a refresher task reads which
circuits are open elsewhere every ``interval`` seconds. Each process may still send its own
half-open trial call after the cooldown.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from typing import TYPE_CHECKING, Any

from plugbay.routing.breaker import CLOSED, OPEN, CircuitBreaker

if TYPE_CHECKING:
    from plugbay.cost.shared import SharedState
    from plugbay.routing.router import Router

# A failure of one breaker key. KEYS: failures zset, open key. ARGV: now (ms), window (ms),
# threshold, cooldown (ms), a unique member. Returns the open key's TTL in ms (0: closed).
BREAKER_FAILURE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then return ttl end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], now, 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[4])
end
return 0
"""

__all__ = ["SharedBreakers", "SharedCircuitBreaker"]

_ids = itertools.count()


class SharedCircuitBreaker(CircuitBreaker):
    __slots__ = ("_hub",)

    def __init__(self, hub: SharedBreakers, base: CircuitBreaker) -> None:
        super().__init__(base.key, threshold=base.threshold, window=base.window,
                         cooldown=base.cooldown, clock=base.clock)
        self._hub = hub

    def failure(self) -> None:
        was = self.state
        super().failure()
        if was == CLOSED:
            self._hub.send_failure(self)

    def _open(self, now: float) -> None:
        super()._open(now)
        self._hub.send_open(self)

    def available(self) -> bool:
        self._hub.ensure_refresher()
        return super().available()

    def remote_open(self, ttl: float) -> None:
        """Another process opened this circuit; ``ttl`` seconds of cooldown are left."""
        if self.state == CLOSED:
            now = self.clock()
            CircuitBreaker._open(self, now)  # local only: it came from Redis
            self.opened_at = now - (self.cooldown - ttl)


class SharedBreakers:
    def __init__(self, shared: SharedState, router: Router, interval: float = 0.25) -> None:
        self._shared = shared
        self.router = router
        self.interval = interval
        self._tag = f"{os.getpid()}-{id(self)}"
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refreshers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._closing = False
        for state in router.states.values():
            self._wrap(state)
        router.state_hooks.append(self._wrap)  # states made later (add_route) share too

    def _wrap(self, state: Any) -> None:
        if not isinstance(state.breaker, SharedCircuitBreaker):
            state.breaker = SharedCircuitBreaker(self, state.breaker)

    def _keys(self, key: str) -> list[str]:
        p = f"{self._shared.prefix}:breaker:{key}"
        return [f"{p}:failures", f"{p}:open"]

    def _spawn(self, coro: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send_failure(self, b: SharedCircuitBreaker) -> None:
        self._spawn(self._failure(b))

    async def _failure(self, b: SharedCircuitBreaker) -> None:
        with contextlib.suppress(Exception):  # Redis down: the breaker still works locally
            ttl = await self._shared.script(
                BREAKER_FAILURE, self._keys(b.key),
                [int(time.time() * 1000), int(b.window * 1000), b.threshold,
                 int(b.cooldown * 1000), f"{self._tag}-{next(_ids)}"])
            if int(ttl) > 0:
                b.remote_open(int(ttl) / 1000)

    def send_open(self, b: SharedCircuitBreaker) -> None:
        async def publish() -> None:
            name, now, px = self._keys(b.key)[1], int(time.time() * 1000), max(
                int(b.cooldown * 1000), 1)
            with contextlib.suppress(Exception):
                await self._shared.run(lambda redis: redis.set(name, now, px=px, nx=True))
        self._spawn(publish())

    def ensure_refresher(self) -> None:
        if self._closing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._refreshers.get(loop)
        if task is None or task.done():
            self._refreshers[loop] = loop.create_task(self._refresh_forever())

    async def refresh(self) -> None:
        """Read which circuits are open in Redis and open them here too."""
        breakers = [s.breaker for s in self.router.states.values()
                    if isinstance(s.breaker, SharedCircuitBreaker)]
        if not breakers:
            return
        names = [self._keys(b.key)[1] for b in breakers]

        async def read(redis: Any) -> Any:
            pipe = redis.pipeline(transaction=False)
            for name in names:
                pipe.pttl(name)
            return await pipe.execute()

        for b, ttl in zip(breakers, await self._shared.run(read), strict=True):
            if int(ttl) > 0 and b.state != OPEN:
                b.remote_open(int(ttl) / 1000)

    async def _refresh_forever(self) -> None:
        # A flag, not only cancel(): redis-py may turn a cancellation that lands inside a
        # command into a connection error, which must not keep this loop alive.
        while not self._closing:
            with contextlib.suppress(Exception):
                await self.refresh()
            await asyncio.sleep(self.interval)

    async def aclose(self) -> None:
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        self._closing = True
        for loop, task in list(self._refreshers.items()):
            if loop is current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 5)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
        self._refreshers.clear()
        if self._tasks and current is not None:
            await asyncio.gather(*self._tasks, return_exceptions=True)
