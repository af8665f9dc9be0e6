"""One call's walk over the targets a strategy ordered: the retry/failover loop's state.

``failed`` turns an attempt's error into the next target (or re-raises it): it feeds
the target's breaker, applies the failover rules of ``retry.classify``, the attempt
cap, the total deadline and the retry budget, and sleeps the backoff or the server's
hint before a target is tried again.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import plugbay.routing.retry as _retry
from plugbay import errors
from plugbay.routing.trace import Attempt

if TYPE_CHECKING:
    from plugbay.routing.router import Router
    from plugbay.routing.state import CompiledRoute, RouteTarget
    from plugbay.routing.trace import RouteTrace

__all__ = ["Plan"]

_perf = time.perf_counter


class Plan:
    """One call's walk over the ordered targets: exclusions, retries, backoff."""

    __slots__ = ("attempts", "excluded", "min_window", "order", "pos", "route", "router",
                 "started", "trace", "tries")

    def __init__(self, router: Router, route: CompiledRoute, order: list[RouteTarget],
                 trace: RouteTrace) -> None:
        self.router = router
        self.route = route
        self.order = order
        self.trace = trace
        self.pos = 0
        self.attempts = 0
        self.excluded: set[int] = set()
        self.min_window: int | None = None
        self.tries: dict[int, int] = {}
        self.started = _perf()

    def first(self) -> RouteTarget:
        t = self._next()
        if t is None:  # every half-open trial is taken by other calls
            raise self.router.none_left(self.route, True, self.trace)
        self.attempts = 1
        self.tries[t.index] = 1
        return t

    def _next(self) -> RouteTarget | None:
        order, n = self.order, len(self.order)
        for step in range(n):
            pos = (self.pos + step) % n
            t = order[pos]
            if t.index in self.excluded:
                continue
            if self.min_window is not None:
                info = self.router.facts(t)
                window = info.context_window if info is not None else None
                if window is None or window <= self.min_window:
                    continue
            if not t.state.breaker.acquire():
                self.trace.attempts.append(Attempt(t.key, "skipped", error="CircuitOpen"))
                continue
            self.pos = pos
            return t
        return None

    async def failed(self, t: RouteTarget, exc: errors.APIError, latency: float,
                     end: float | None) -> RouteTarget:
        """Record a failed attempt and return the next target (after any backoff), or
        raise ``exc`` when nothing more may be tried."""
        return await self.after(t, exc, self.record(t, exc, latency), end)

    def record(self, t: RouteTarget, exc: errors.APIError, latency: float) -> int:
        """Count a failed attempt against ``t``'s breaker and in the trace; its kind."""
        kind = _retry.classify(exc)
        breaker = t.state.breaker
        if _retry.counts_against_target(kind):
            breaker.failure()
            if isinstance(exc, errors.TimeoutError):  # slowness steers least_latency away
                t.state.observe(latency)
        else:
            breaker.success()  # it answered; the request was the problem
        self.trace.attempts.append(Attempt(t.key, "error", latency, type(exc).__name__,
                                           exc.status))
        return kind

    async def after(self, t: RouteTarget, exc: errors.APIError, kind: int,
                    end: float | None) -> RouteTarget:
        """The next target after ``t`` failed with ``exc`` (recorded), or raise it."""
        trace, route = self.trace, self.route
        if kind == _retry.FATAL:
            raise self.give_up(exc)
        if kind == _retry.CONTEXT:
            if not route.context_failover:
                raise self.give_up(exc)
            info = self.router.facts(t)
            window = info.context_window if info is not None else None
            self.min_window = max(window or 0, self.min_window or 0)
            self.excluded.add(t.index)
        elif kind == _retry.FILTER:
            if not route.content_filter_failover:
                raise self.give_up(exc)
            self.excluded.add(t.index)
        elif kind == _retry.TARGET:
            if isinstance(exc, errors.ModelNotFoundError):
                self.excluded.add(t.index)
            else:  # the key is bad: every target of this provider instance shares it
                self.excluded.update(o.index for o in self.order if o.provider == t.provider)
        if self.attempts >= route.max_attempts:
            raise self.give_up(exc)
        if end is not None and _perf() >= end:
            raise self.give_up(exc)
        self.pos = (self.pos + 1) % len(self.order)
        nxt = self._next()
        if nxt is None:
            raise self.give_up(exc)
        if not self.router.budget.withdraw():
            nxt.state.breaker.release()
            trace.reason += "; retry budget exhausted"
            raise self.give_up(exc)
        before = self.tries.get(nxt.index, 0)
        if before:
            s = self.router.settings
            if nxt is t:
                delay = _retry.delay_for(exc, before - 1, s.backoff_base, s.backoff_max,
                                         s.retry_after_cap)
            else:
                delay = _retry.backoff(before - 1, s.backoff_base, s.backoff_max)
            if end is not None and _perf() + delay >= end:
                nxt.state.breaker.release()
                raise self.give_up(exc)
            if delay > 0:
                try:
                    await asyncio.sleep(delay)
                except BaseException:
                    nxt.state.breaker.release()
                    raise
                trace.attempts[-1].waited = delay
        self.attempts += 1
        self.tries[nxt.index] = before + 1
        return nxt

    def alongside(self, t: RouteTarget) -> RouteTarget | None:
        """A second target to run beside ``t``, which is still running (hedging): the
        next one in order whose circuit lets it through, or ``None``. It is an attempt
        like any other, and takes from the retry budget, so hedges cannot storm."""
        if self.attempts >= self.route.max_attempts:
            return None
        self.excluded.add(t.index)
        self.pos = (self.pos + 1) % len(self.order)
        nxt = self._next()
        self.excluded.discard(t.index)
        if nxt is None:
            return None
        if not self.router.budget.withdraw():
            nxt.state.breaker.release()
            return None
        self.attempts += 1
        self.tries[nxt.index] = self.tries.get(nxt.index, 0) + 1
        return nxt

    def give_up(self, exc: errors.APIError) -> errors.APIError:
        """``exc``, carrying the trace, to raise when nothing more will be tried."""
        self.trace.elapsed = _perf() - self.started
        exc.trace = self.trace  # type: ignore[attr-defined]
        return exc
