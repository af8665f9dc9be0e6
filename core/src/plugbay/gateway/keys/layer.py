"""``KeyLayer``: a virtual key's budget, RPM/TPM limits and model list, enforced on
every call made with it (the gateway puts the key's id in ``call.tags["key"]``).

It runs the cost machinery admission uses, on counters of the key's own: before the
call it reserves the estimated cost on the key's budget counter (atomically against
its limit; in Redis with ``[state] backend = "redis"``, so N workers and instances
share one budget) and takes a permit from the key's RPM/TPM window; after the call,
however it ended, it settles both with what the call really used. It raises what
admission raises: ``BudgetExceededError`` (with ``retry_after`` until the period
turns, for a daily or monthly budget) and ``RateLimitError`` (``retry_after`` set).

Calls without a ``key`` tag (the master key, library use) pass untouched.
"""

from __future__ import annotations

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
    from plugbay.types import Completion, StreamEvent

__all__ = ["KeyLayer"]

_FLOOR = 1e-9  # reserved when the price is unknown: a used-up budget still refuses
_TOTAL_TTL = 400 * 86400  # a total budget's counter outlives any idle year


class _Ticket:
    __slots__ = ("counter", "permit", "reserved")

    def __init__(self, counter: str | None, reserved: float, permit: Permit | None) -> None:
        self.counter, self.reserved, self.permit = counter, reserved, permit


class KeyLayer(Layer):
    """``budgets``/``limits``: where the counters live (default: Redis when the store
    has shared state, else this process)."""

    name = "keys"

    def __init__(self, store: KeyStore, *, budgets: BudgetStore | None = None,
                 limits: LimitStore | None = None, output_tokens: int = 1024,
                 clock: Callable[[], float] = time.time) -> None:
        shared = store.shared
        self.store = store
        self.budgets: BudgetStore = budgets or (shared.budget_store() if shared
                                                else MemoryStore())
        self.limiter = RateLimiter({}, limits or (shared.limit_store() if shared
                                                  else MemoryLimitStore()))
        self.output_tokens = output_tokens
        self.clock = clock

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

    async def _admit(self, call: Call, key: VirtualKey) -> _Ticket:
        request = call.request
        counter = None
        reserved = 0.0
        if key.budget is not None:
            now = self.clock()
            counter, since, ttl, pid = self._window(key, now)
            if not self.budgets.has(counter):  # start from what the ledger holds
                await self.budgets.seed(counter, await self.store.spent(key.id, since), ttl)
            price = call.target.price(request.model) if call.target is not None else None
            reserved = max(estimate_cost(request, price, self.output_tokens), _FLOOR)
            if await self.budgets.reserve([(counter, key.budget, ttl)], reserved) is not None:
                spent, held = self.budgets.peek(counter)
                exc = errors.BudgetExceededError(
                    f"virtual key {key.prefix}: its {key.period} budget of {key.budget:g} USD "
                    f"is used up (spent {spent:.6g}, reserved {held:.6g}, this call's "
                    f"estimate {reserved:.6g})", budget=f"key:{key.id}", spent=spent,
                    limit=key.budget, period=pid)
                if key.period != "total":
                    exc.retry_after = max(period_bounds(key.period, now)[2] - now, 1.0)
                raise exc
        permit = None
        if key.rpm or key.tpm:
            out = request.max_tokens if request.max_tokens is not None else self.output_tokens
            tokens = estimate_tokens(request) + out
            name = f"key:{key.id}"
            second, wait = await self.limiter.store.acquire(
                name, LimitSpec(key.rpm, key.tpm, "raise"), tokens)
            if second is None:
                if counter is not None:
                    await self.budgets.settle([counter], reserved, 0.0)
                raise errors.RateLimitError(
                    f"virtual key {key.prefix}: rate limit reached (rpm={key.rpm or '-'}, "
                    f"tpm={key.tpm or '-'}); retry in {wait:.2f} s",
                    retry_after=max(wait, 0.01), code="key_rate_limit")
            permit = Permit(name, second, tokens)
        return _Ticket(counter, reserved, permit)

    async def _settle(self, call: Call, ticket: _Ticket, total_tokens: int | None) -> None:
        if ticket.counter is not None:
            actual = call.outcome.cost
            if actual is None or call.outcome.cache == "hit":
                actual = 0.0  # a failed or unpriced call, or a cache hit: nothing spent
            await self.budgets.settle([ticket.counter], ticket.reserved, actual)
        await self.limiter.settle(ticket.permit, total_tokens)

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
        await self._settle(call, ticket,
                           c.usage.total_tokens if c.usage is not None else None)
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
        await self.budgets.aclose()
        await self.limiter.store.aclose()

