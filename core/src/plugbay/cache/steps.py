"""The steps both halves of ``CacheLayer`` share: reading and writing entries through
the fused store, recording a hit, and the bookkeeping of a flight and its lock.

Kept apart from ``layer.py``, which reads as the decision of what to do with one call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from plugbay import errors
from plugbay.cache.entry import last_usage, saved_cost
from plugbay.cache.flight import Flight, Flights, Origin, ending
from plugbay.cache.guard import Guarded
from plugbay.cache.key import where

if TYPE_CHECKING:
    from plugbay.cache.base import Store
    from plugbay.call import Call
    from plugbay.types import Completion

__all__ = ["DEFAULT_TTL", "CacheSteps", "OnHit"]

log = logging.getLogger("plugbay.cache")
T = TypeVar("T")
OnHit = Callable[["Call", "Completion | None", "float | None"], "Awaitable[None] | None"]

DEFAULT_TTL = 24 * 3600.0
_STORES = (None, "no-cache")  # the modes that write
_now = time.perf_counter


class CacheSteps:
    """State and shared steps of the cache layer (see ``CacheLayer`` for the arguments)."""

    def __init__(self, store: Store, *, ttl: float | None = DEFAULT_TTL,
                 namespace: str = "default", on_hit: OnHit | None = None,
                 timeout: float | None = None, lock_ttl: float = 10.0,
                 backoff: float = 30.0, poll: tuple[float, float] = (0.01, 0.25)) -> None:
        self.store = store
        self.ttl = ttl
        self.namespace = namespace
        self.on_hit = on_hit
        self.timeout = timeout
        self.lock_ttl = lock_ttl
        self.poll = poll
        self._store = Guarded(store, backoff)
        self._flights = Flights()

    async def aclose(self) -> None:
        await self.store.aclose()

    async def _hit(self, call: Call, completion: Completion, saved: float | None,
                   ) -> Completion:
        completion.extra["cache"] = "hit"
        await self._record(call, (completion.provider, completion.model, completion.price,
                                  saved), completion)
        return completion

    async def _record(self, call: Call, origin: Origin, completion: Completion | None,
                      ) -> None:
        """Fill in ``call.outcome`` for a hit, and tell ``on_hit``."""
        outcome = call.outcome
        outcome.cache = "hit"
        outcome.provider, outcome.model, outcome.price, saved = origin
        outcome.saved = saved
        if self.on_hit is not None:
            result = self.on_hit(call, completion, saved)
            if result is not None and inspect.isawaitable(result):  # None: the usual sync hook
                await result

    @staticmethod
    def _who(call: Call, events: list[Any]) -> Origin | None:
        """Who answered a stream, at what price and cost: what the layers below
        reported, else the call's own target."""
        outcome, target = call.outcome, call.target
        provider = outcome.provider or (target.name if target is not None else None)
        if provider is None:
            return None
        model = outcome.model or call.request.model
        price = outcome.price
        if price is None and target is not None:
            price = target.price(model)
        return provider, model, price, saved_cost(last_usage(events), price)

    async def _read(self, key: str, decode: Callable[[bytes], T], *, warn: bool = True,
                    ) -> tuple[bytes, T] | None:
        """The entry under ``key``, decoded; a corrupt one is a miss (and, with ``warn``,
        one warning: a leader re-reading while it waits has reported it already)."""
        data = await self._store.get(key)
        if data is None:
            return None
        try:
            return data, decode(data)
        except Exception as exc:
            if warn:
                log.warning("plugbay cache: entry %s is unreadable (%s: %.200s); treated as "
                            "a miss", key[:16], type(exc).__name__, exc)
            return None

    def _encode(self, encode: Callable[..., bytes], *args: Any) -> bytes | None:
        try:
            return encode(*args)
        except Exception as exc:  # say a plugin left a live object in ``extra``
            log.warning("plugbay cache: an answer could not be serialised (%s: %.200s); "
                        "not cached", type(exc).__name__, exc)
            return None

    async def _keep(self, key: str, entry: bytes, call: Call, mode: str | None) -> None:
        ttl = call.ttl if call.ttl is not None else self.ttl
        if mode in _STORES and (ttl is None or ttl > 0):
            await self._store.set(key, entry, ttl)

    async def _lock(self, call: Call, key: str, decode: Callable[[bytes], T],
                    ) -> tuple[str | None, tuple[bytes, T] | None]:
        """Lead across processes: ``(token, None)`` once this call holds the lock, or
        ``(None, entry)`` when another process's leader stored the answer meanwhile."""
        token = os.urandom(8).hex()
        end = self._end(call)
        pause = self.poll[0]
        while True:
            if await self._store.claim(key, token, self.lock_ttl):
                found = await self._read(key, decode, warn=False)  # stored meanwhile?
                if found is not None:
                    await self._store.release(key, token)
                    return None, found
                return token, None
            found = await self._read(key, decode, warn=False)
            if found is not None:
                return None, found
            left = None if end is None else end - _now()
            if left is not None and left <= 0:
                raise self._late(call)
            await asyncio.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 1.5, self.poll[1])

    def _renew(self, key: str, token: str | None) -> asyncio.Task[None] | None:
        """Keep extending the lock while the upstream call runs: it may take minutes,
        and a short lock lets others take over soon after a leader's process dies."""
        if token is None:
            return None

        async def extend() -> None:
            while True:
                await asyncio.sleep(self.lock_ttl / 3)
                await self._store.claim(key, token, self.lock_ttl)

        return asyncio.get_running_loop().create_task(extend())

    @staticmethod
    async def _stop(renew: asyncio.Task[None] | None) -> None:
        """Stop extending, and wait until it has stopped: an extension still on its way
        after the release would take the lock again for nobody."""
        if renew is not None:
            renew.cancel()
            await asyncio.wait((renew,))

    @staticmethod
    def _board(table: dict[str, Flight], key: str) -> Flight | None:
        """Lead the flight of ``key`` in this process; ``None`` when one runs already
        (a ``no-cache`` call beside it goes on its own)."""
        if key in table:
            return None
        flight = table[key] = Flight()
        return flight

    @staticmethod
    def _land(table: dict[str, Flight], key: str, flight: Flight | None, *,
              entry: bytes | None = None, value: Any = None, keep: bool = False) -> None:
        """End ``flight`` well. ``keep`` leaves it in the table while the entry is
        written, so a call arriving meanwhile still shares it."""
        if flight is None:
            return
        if flight.state is None:
            flight.end("ok", entry=entry, value=value)
        if not keep and table.get(key) is flight:
            del table[key]

    @staticmethod
    def _crash(table: dict[str, Flight], key: str, flight: Flight | None,
               exc: BaseException) -> None:
        if flight is None:
            return
        if table.get(key) is flight:
            del table[key]
        if flight.state is None:
            flight.end(ending(exc), error=exc)

    async def _wait(self, call: Call, flight: Flight, end: float | None) -> None:
        """Wait for ``flight`` to change; ``TimeoutError`` once ``end`` has passed."""
        left = None if end is None else end - _now()
        if (left is not None and left <= 0) or not await flight.changed(left):
            raise self._late(call)

    def _end(self, call: Call) -> float | None:
        left = call.left(self.timeout)
        return None if left is None else _now() + left

    def _late(self, call: Call) -> errors.TimeoutError:
        limit = call.timeout if call.timeout is not None else self.timeout
        return errors.TimeoutError(f"no answer within {limit} s while waiting for an "
                                   "identical call in flight", provider=where(call))
