"""Hedged requests: when a route's first target is slow, race the next one.

``hedge = "p90"`` on a route: if the first target has not answered (``complete``) or
sent its first event (``stream``) within its own 90th-percentile latency, the next
target is started beside it. Whichever answers first wins; the other is cancelled at
once, so its ledger row says ``cancelled`` and costs nothing that was not delivered.
A hedge is an attempt like any other: it counts in ``max_attempts``, takes from the
retry budget and shows in the trace. If both fail, the route goes on as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from plugbay import errors
from plugbay.routing import retry as _retry
from plugbay.routing.trace import Attempt

if TYPE_CHECKING:
    from plugbay.call import Outcome
    from plugbay.routing.plan import Plan
    from plugbay.routing.state import CompiledRoute, RouteTarget

__all__ = ["hedged"]

T = TypeVar("T")
_perf = time.perf_counter


async def hedged(route: CompiledRoute, plan: Plan, first: RouteTarget,
                 start: Callable[[RouteTarget], Awaitable[T]], end: float | None,
                 outcome: Outcome, stream: bool = False,
                 discard: Callable[[T], Awaitable[None]] | None = None,
                 ) -> tuple[T, RouteTarget, float] | RouteTarget:
    """Run ``start(first)``; past the hedge delay, race ``start(next target)`` beside it.

    Returns ``(result, target, started)`` for the winner, still counted in flight, its
    verdict and trace entry left to the caller (a stream's comes at its end); or the
    target the route goes on with when every hedged attempt failed; or raises when the
    route must give up. ``discard`` closes a result that lost a tie (a stream).
    """
    assert route.hedge is not None
    recent = first.state.recent_ttft if stream else first.state.recent
    delay = route.hedge.delay(recent)
    if end is not None:
        delay = min(delay, max(end - _perf(), 0.0))
    running: dict[asyncio.Task[T], tuple[RouteTarget, float]] = {}

    def launch(t: RouteTarget) -> None:
        t.state.inflight += 1
        running[asyncio.ensure_future(start(t))] = (t, _perf())

    launch(first)
    last: tuple[RouteTarget, errors.APIError, int] | None = None
    try:
        done, _ = await asyncio.wait(running, timeout=delay)
        if not done:
            second = plan.alongside(first)
            if second is not None:
                plan.trace.reason += f"; hedged to {second.key} after {delay:.3g} s"
                launch(second)
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            winner: tuple[T, RouteTarget, float] | None = None
            for task in done:
                t, t0 = running.pop(task)
                exc = task.exception()
                if exc is None and winner is None:
                    winner = (task.result(), t, t0)
                    continue
                t.state.inflight -= 1
                if exc is None:  # a tie: the other answered in the same instant
                    t.state.breaker.release()
                    plan.trace.attempts.append(Attempt(t.key, "cancelled", _perf() - t0))
                    if discard is not None:
                        await discard(task.result())
                elif isinstance(exc, errors.APIError):
                    kind = plan.record(t, exc, _perf() - t0)
                    last = (t, exc, kind)
                else:
                    raise exc  # cancelled, or a bug: the finally cancels the other
            if winner is not None:
                await _cancel(running, plan)
                _stamp(outcome, winner[0])
                return winner
            if last is not None and last[2] == _retry.FATAL:  # the other would fail too
                break
    finally:
        await _cancel(running, plan)
    assert last is not None
    t, exc, kind = last
    return await plan.after(t, exc, kind, end)


async def _cancel(running: dict[asyncio.Task[Any], tuple[RouteTarget, float]],
                  plan: Plan) -> None:
    """Cancel the attempts still running: no verdict on their targets."""
    for task, (t, t0) in list(running.items()):
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        t.state.inflight -= 1
        t.state.breaker.release()
        plan.trace.attempts.append(Attempt(t.key, "cancelled", _perf() - t0))
    running.clear()


def _stamp(outcome: Outcome, result: Any) -> None:
    """The winner's provider, model and price on the call (a loser that also finished
    may have written its own there)."""
    if hasattr(result, "provider") and hasattr(result, "price"):
        outcome.provider, outcome.model, outcome.price = (result.provider, result.model,
                                                          result.price)
