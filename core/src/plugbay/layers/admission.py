"""The admission layer: budgets and rate limits, per attempt.

Before an attempt it reserves the estimated cost against every matching budget and
takes a rate-limit permit (the prompt counted locally where the provider's plugin can,
``plugbay.token_checks``, else estimated); after it, it settles both with what the attempt really
used (the metering layer below leaves the cost on ``call.outcome``). It also gives
the router two filters, so a route steers around targets that would be refused.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from plugbay import errors
from plugbay._aio import close_quietly
from plugbay.cost.budgets import estimate_cost, estimate_tokens
from plugbay.pipeline import Layer
from plugbay.token_checks import cheap_count

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.cost.budgets import BudgetManager, Reservation
    from plugbay.cost.ratelimit import Permit, RateLimiter
    from plugbay.embeddings import Embeddings, EmbedRequest
    from plugbay.pipeline import CompleteNext, EmbedNext, StreamNext
    from plugbay.targets import Targets
    from plugbay.types import Completion, StreamEvent

__all__ = ["Admission"]

_perf = time.perf_counter


class Admission(Layer):
    name = "admission"

    def __init__(self, budgets: BudgetManager | None, limiter: RateLimiter | None,
                 targets: Targets) -> None:
        self.budgets = budgets
        self.limiter = limiter
        self.targets = targets

    async def _admit(self, call: Call, tokens: int | None = None,
                     ) -> tuple[Reservation | None, Permit | None, str | None]:
        """``tokens``: the input estimate of an embedding (no output); ``None`` for chat."""
        target, request = call.target, call.request
        assert target is not None
        provider = target.name
        reservation = permit = key = None
        budgets, limiter = self.budgets, self.limiter
        prompt: int | None = None
        if tokens is None:  # chat: a local count where the plugin has one, else estimated
            counted = await cheap_count(target, request, call.meta)
            prompt = counted.count if counted is not None else None
        if budgets is not None:
            price = target.price(request.model)
            if tokens is None:
                estimate = estimate_cost(request, price, budgets.output_tokens, prompt)
            else:
                estimate = tokens * price.input / 1_000_000 if price and price.input else 0.0
            reservation = await budgets.reserve(provider, request.model, call.route,
                                                call.tags, estimate)
        if limiter is not None:
            out = (request.max_tokens if request.max_tokens is not None
                   else budgets.output_tokens if budgets else 1024)
            key = limiter.key(provider, target.api_key())
            try:
                if tokens is None:
                    need = (estimate_tokens(request) if prompt is None else prompt) + out
                else:
                    need = tokens
                permit = await limiter.acquire(provider, key, need)
            except BaseException:
                if budgets is not None:
                    await budgets.settle(reservation, 0.0)
                raise
        return reservation, permit, key

    async def _settle(self, call: Call, reservation: Reservation | None,
                      permit: Permit | None, key: str | None, ok: bool,
                      total_tokens: int | None, limits: Any,
                      exc: BaseException | None = None) -> None:
        target = call.target
        assert target is not None
        if self.budgets is not None:
            actual = call.outcome.cost
            if actual is None and not ok:
                actual = 0.0  # failed calls are not billed unless usage says so
            await self.budgets.settle_call(reservation, target.name, call.request.model,
                                           call.route, call.tags, actual)
        if self.limiter is not None and key is not None:
            await self.limiter.settle(permit, total_tokens)
            retry_after = exc.retry_after if isinstance(exc, errors.RateLimitError) else None
            if limits or retry_after is not None:
                await self.limiter.observe(target.name, key, limits, retry_after)

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        got: Completion = await self._once(call, next, None)
        return got

    async def embed(self, call: Call, next: EmbedNext) -> Embeddings:
        """Reserve the inputs' estimated tokens at the input price (there is no output)."""
        from plugbay.embeddings import estimate_input_tokens

        request = cast("EmbedRequest", call.request)
        tokens: int = sum(estimate_input_tokens(text) for text in request.inputs)
        got: Embeddings = await self._once(call, next, tokens)
        return got

    async def _once(self, call: Call, next: Any, tokens: int | None) -> Any:
        """One awaited answer (a completion, or embeddings): admit, call, settle."""
        reservation, permit, key = await self._admit(call, tokens)
        call.outcome.cost = None
        try:
            c = await next(call)
        except BaseException as exc:
            await self._settle(call, reservation, permit, key, False, None, None, exc)
            raise
        await self._settle(call, reservation, permit, key, True,
                           c.usage.total_tokens if c.usage is not None else None,
                           c.extra.get("rate_limits"))
        return c

    async def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        reservation, permit, key = await self._admit(call)
        call.outcome.cost = None
        outcome: BaseException | None = None
        events = next(call)
        try:
            async for event in events:
                yield event
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            await close_quietly(events)
            col = call.outcome.collector
            usage = col.usage if col is not None else None
            await self._settle(call, reservation, permit, key, outcome is None,
                               usage.total_tokens if usage is not None else None,
                               col.extra.get("rate_limits") if col is not None else None,
                               outcome)

    # ------------------------------------------------------------ router filters

    def budget_filter(self, targets: list[Any], rcall: Any) -> list[Any]:
        """Skip targets a hard budget of theirs would refuse. When that leaves none,
        refuse the call here with the budget's own error."""
        budgets = self.budgets
        if budgets is None:
            return targets
        keep, over = [], []
        for t in targets:
            price = self.targets.get(t.provider).price(t.model_id)
            estimate = estimate_cost(rcall.request, price, budgets.output_tokens)
            b = budgets.blocking(t.provider, t.model_id, rcall.route.name, rcall.tags,
                                 estimate)
            if b is None:
                keep.append(t)
            else:
                over.append((t, b))
        if not keep and over:
            # the budget to report: one that names a downgrade, else the first
            blocked = next((b for _, b in over if b.on_exceed == "downgrade"), over[0][1])
            spent, _ = budgets.store.peek(blocked.key(budgets.clock()))
            which = ", ".join(f"{t.key} ({b.name})" for t, b in over)
            raise errors.BudgetExceededError(
                f"route {rcall.route.name!r}: every target is over a hard budget: {which}",
                budget=blocked.name, spent=spent, limit=blocked.limit,
                period=blocked.key(budgets.clock()).rpartition(":")[2],
                downgrade_to=blocked.downgrade_to if blocked.on_exceed == "downgrade"
                else None)
        return keep

    def limit_filter(self, targets: list[Any], rcall: Any) -> list[Any]:
        """Prefer targets whose rate limit admits a call now. If none does, keep them
        all: the attempt then waits or raises as its ``on_limit`` says."""
        limiter = self.limiter
        if limiter is None:
            return targets
        free = [t for t in targets if not limiter.would_wait(
            t.provider, limiter.key(t.provider, self.targets.get(t.provider).api_key()))]
        return free or targets
