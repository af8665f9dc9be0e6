"""``KeyLayer``: a virtual key's budget, RPM/TPM limits and model list, enforced on
every call made with it (the gateway puts the key's id in ``call.tags["key"]``).

It runs the cost machinery admission uses, on counters of the key's own: before the
call it reserves the estimated cost on the key's budget counter (atomically against
its limit; in Redis with ``[state] backend = "redis"``, so N workers and instances
share one budget) and takes a permit from the key's RPM/TPM window, both at once;
after the call, however it ended (a client gone mid-stream too), it settles both with
what the call really used, in the background so the answer does not wait for it. It raises what
admission raises: ``BudgetExceededError`` (with ``retry_after`` until the period
turns, for a daily or monthly budget) and ``RateLimitError`` (``retry_after`` set).

Calls without a ``key`` tag (the master key, library use) pass untouched.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from plugbay import errors
from plugbay._aio import close_quietly
from plugbay.cost.budgets import MemoryStore, estimate_cost, estimate_tokens, period_bounds
from plugbay.cost.ratelimit import LimitSpec, MemoryLimitStore, Permit, RateLimiter
from plugbay.pipeline import Layer

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.cost.budgets.store import BudgetStore
    from plugbay.cost.ratelimit import LimitStore
    from plugbay.gateway.keys.record import VirtualKey
    from plugbay.gateway.keys.store import KeyStore
    from plugbay.pipeline import CompleteNext, StreamNext
    from plugbay.types import Completion, Price, StreamEvent

__all__ = ["KeyLayer"]

log = logging.getLogger("plugbay.gateway.keys")

_FLOOR = 1e-9  # reserved when the price is unknown: a used-up budget still refuses
_TOTAL_TTL = 400 * 86400  # a total budget's counter outlives any idle year


def _target_price(call: Call) -> Price | None:
    return call.target.price(call.request.model) if call.target is not None else None


class _Ticket:
    __slots__ = ("counter", "hold", "permit", "reserved")

    def __init__(self, counter: str | None, reserved: float, permit: Permit | None,
                 hold: str = "") -> None:
        self.counter, self.reserved, self.permit = counter, reserved, permit
        self.hold = hold  # the reservation's id: a shared store keeps each one apart


class KeyLayer(Layer):
    """``budgets``/``limits``: where the counters live (default: Redis when the store
    has shared state, else this process). ``price_of(call)``: the price to estimate a
    call's cost with; by default its target's, which a route call does not have yet (the
    gateway can pass the dearest price among the route's targets). Without a price the
    estimate is ~0: a used-up budget still refuses, but concurrent calls may then
    overspend it by what they cost, not by one estimate."""

    name = "keys"

    def __init__(self, store: KeyStore, *, budgets: BudgetStore | None = None,
                 limits: LimitStore | None = None, output_tokens: int = 1024,
                 price_of: Callable[[Call], Price | None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        shared = store.shared
        self.store = store
        self.budgets: BudgetStore = budgets or (shared.budget_store() if shared
                                                else MemoryStore())
        self.limiter = RateLimiter({}, limits or (shared.limit_store() if shared
                                                  else MemoryLimitStore()))
        self.output_tokens = output_tokens
        self.price_of = price_of or _target_price
        self.clock = clock
        self._pending: set[asyncio.Task[None]] = set()
        self._holds = itertools.count(1)  # reservation ids, unique per process and layer
        self._holds_prefix = "key-" + os.urandom(6).hex() + "-"
        # Counters in Redis cost a round trip each: then reserve and acquire run side by
        # side, and settling runs in the background. In memory, plain awaits are cheaper.
        self._remote = shared is not None and budgets is None and limits is None

    async def _key(self, call: Call) -> VirtualKey | None:
        key_id = (call.tags or {}).get("key")
        if key_id is None:
            return None
        key = await self.store.key(key_id)
        if key is None:
            raise errors.AuthenticationError("invalid API key", code="invalid_api_key")
        why = key.usable(self.clock())
        if why is not None:  # revoked or expired since the request was authenticated
            raise errors.AuthenticationError(f"virtual key {key.prefix} is {why}",
                                             code="invalid_api_key")
        if not key.principal().allows(call.model):
            raise errors.PermissionDeniedError(
                f"virtual key {key.prefix} may not call {call.model!r}",
                code="model_not_allowed")
        return key

    def _window(self, key: VirtualKey, now: float) -> tuple[str, float, float, str]:
        """The budget counter of the current period: (name, since, seconds to live,
        period id)."""
        if key.period == "total":
            return f"key:{key.id}:total", 0.0, _TOTAL_TTL, "total"
        pid, start, end = period_bounds(key.period, now)
        return f"key:{key.id}:{pid}", start, end - now + 86400, pid

    async def _reserve(self, call: Call, key: VirtualKey) -> tuple[str, float, str]:
        """Reserve the call's estimate on the key's budget counter, or raise."""
        assert key.budget is not None
        request = call.request
        now = self.clock()
        counter, since, ttl, pid = self._window(key, now)
        if not self.budgets.has(counter):  # start from what the ledger holds
            try:
                spent = await self.store.spent(key.id, since)
            except Exception as failure:  # as for [budgets]: an unreadable ledger blocks nothing
                log.warning("virtual key %s: could not read the ledger: %s", key.prefix,
                            failure)
                spent = 0.0
            await self.budgets.seed(counter, spent, ttl)
        price = self.price_of(call)
        reserved = max(estimate_cost(request, price, self.output_tokens), _FLOOR)
        hold = f"{self._holds_prefix}{next(self._holds)}"
        if await self.budgets.reserve([(counter, key.budget, ttl)], reserved, hold) is None:
            return counter, reserved, hold
        spent, held = self.budgets.peek(counter)
        exc = errors.BudgetExceededError(
            f"virtual key {key.prefix}: its {key.period} budget of {key.budget:g} USD is "
            f"used up (spent {spent:.6g}, reserved {held:.6g}, this call's estimate "
            f"{reserved:.6g})", budget=f"key:{key.id}", spent=spent, limit=key.budget,
            period=pid)
        if key.period != "total":
            exc.retry_after = max(period_bounds(key.period, now)[2] - now, 1.0)
        raise exc

    async def _acquire(self, call: Call, key: VirtualKey) -> Permit:
        """A permit from the key's RPM/TPM window, or ``RateLimitError``."""
        request = call.request
        tokens = 0  # with no TPM limit, tokens are not counted (nor settled: one trip less)
        if key.tpm:
            out = request.max_tokens if request.max_tokens is not None else self.output_tokens
            tokens = estimate_tokens(request) + out
        name = f"key:{key.id}"
        second, wait = await self.limiter.store.acquire(
            name, LimitSpec(key.rpm, key.tpm, "raise"), tokens)
        if second is None:
            raise errors.RateLimitError(
                f"virtual key {key.prefix}: rate limit reached (rpm={key.rpm or '-'}, "
                f"tpm={key.tpm or '-'}); retry in {wait:.2f} s",
                retry_after=max(wait, 0.01), code="key_rate_limit")
        return Permit(name, second, tokens)

    async def _admit(self, call: Call, key: VirtualKey) -> _Ticket:
        """Budget and rate limit at once (with Redis: two round trips in parallel).
        Whichever refuses, what the other took is given back."""
        budgeted, limited = key.budget is not None, bool(key.rpm or key.tpm)
        if budgeted and limited and self._remote:
            got = await asyncio.gather(self._reserve(call, key), self._acquire(call, key),
                                       return_exceptions=True)
            reservation, permit = got
            failed = next((x for x in got if isinstance(x, BaseException)), None)
            if failed is not None:
                if isinstance(reservation, tuple):
                    await self.budgets.settle([reservation[0]], reservation[1], 0.0,
                                              reservation[2])
                if isinstance(permit, Permit):  # its tokens back (a window keeps the request)
                    await self.limiter.settle(permit, 0)
                raise failed
            assert isinstance(reservation, tuple) and isinstance(permit, Permit)
            return _Ticket(reservation[0], reservation[1], permit, reservation[2])
        ticket = _Ticket(None, 0.0, None)
        if budgeted:
            ticket.counter, ticket.reserved, ticket.hold = await self._reserve(call, key)
        if limited:
            try:
                ticket.permit = await self._acquire(call, key)
            except BaseException:
                if ticket.counter is not None:
                    await self.budgets.settle([ticket.counter], ticket.reserved, 0.0,
                                              ticket.hold)
                raise
        return ticket

    async def _settle(self, call: Call, ticket: _Ticket, total_tokens: int | None) -> None:
        """Settle the counters; with Redis in the background, so the answer does not
        wait for them."""
        actual = call.outcome.cost
        if actual is None or call.outcome.cache == "hit":
            actual = 0.0  # a failed or unpriced call, or a cache hit: nothing spent
        if not self._remote:
            if ticket.counter is not None:
                await self.budgets.settle([ticket.counter], ticket.reserved, actual,
                                          ticket.hold)
            permit = ticket.permit
            await self.limiter.settle(
                permit, total_tokens if permit is not None and permit.tokens else None)
            return
        task = asyncio.ensure_future(self._settle_now(ticket, actual, total_tokens))
        self._pending.add(task)
        task.add_done_callback(self._settled)

    async def _settle_now(self, ticket: _Ticket, actual: float,
                          total_tokens: int | None) -> None:
        async def budget() -> None:
            if ticket.counter is not None:
                await self.budgets.settle([ticket.counter], ticket.reserved, actual,
                                          ticket.hold)
        permit = ticket.permit
        await asyncio.gather(budget(), self.limiter.settle(
            permit, total_tokens if permit is not None and permit.tokens else None))

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("virtual keys: settling a call failed: %r", task.exception())

    async def drain(self) -> None:
        """Wait until every finished call is settled (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        key = await self._key(call)
        if key is None:
            return await next(call)
        ticket = await self._admit(call, key)
        try:
            c = await next(call)
        except BaseException:
            await self._settle(call, ticket, None)
            raise
        await self._settle(call, ticket, c.usage.total_tokens if c.usage is not None else None)
        return c

    def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        if (call.tags or {}).get("key") is None:
            return next(call)  # untouched: no cost per chunk
        return self._stream(call, next)

    async def _stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        key = await self._key(call)
        assert key is not None
        ticket = await self._admit(call, key)
        events = next(call)
        try:
            async for event in events:
                yield event
        finally:  # also when the client went away: settle with the tokens really used
            await close_quietly(events)
            col = call.outcome.collector
            usage = col.usage if col is not None else None
            await self._settle(call, ticket, usage.total_tokens if usage is not None else None)

    async def aclose(self) -> None:
        await self.drain()
        await self.budgets.aclose()
        await self.limiter.store.aclose()

