"""A routed stream after its first event: no failover from here on, only the relay,
the idle and total time limits, and the target's verdict when the stream ends."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

import plugbay.routing.retry as _retry
from plugbay import errors
from plugbay.routing.timing import close_quietly, next_event, time_left
from plugbay.routing.trace import Attempt

if TYPE_CHECKING:
    from plugbay.routing.state import RouteTarget
    from plugbay.routing.trace import RouteTrace
    from plugbay.types import StreamEvent

__all__ = ["committed"]

_perf = time.perf_counter


async def committed(first: StreamEvent, events: AsyncIterator[StreamEvent], t: RouteTarget,
                    t0: float, idle: float | None, end: float | None, trace: RouteTrace,
                    started: float) -> AsyncGenerator[StreamEvent, None]:
    """Relay ``first`` and the rest of ``events`` from ``t`` (counted in flight since
    ``t0``); a failure now is a ``StreamError`` carrying the trace."""
    state = t.state
    state.observe_ttft(_perf() - t0)
    outcome = "cancelled"
    try:
        yield first
        while True:
            try:
                event = await next_event(events, time_left(idle, end), "next event", t.provider)
            except StopAsyncIteration:
                break
            yield event
        outcome = "ok"
    except errors.APIError as exc:
        outcome = "error"
        latency = _perf() - t0
        kind = _retry.classify(exc)
        if _retry.counts_against_target(kind):
            state.breaker.failure()
        else:
            state.breaker.success()
        trace.attempts.append(Attempt(t.key, "error", latency, type(exc).__name__,
                                      exc.status))
        trace.elapsed = _perf() - started
        if isinstance(exc, errors.StreamError):
            exc.trace = trace  # type: ignore[attr-defined]
            raise
        broken = errors.StreamError(
            f"stream broke after it started: {type(exc).__name__}: {exc.message}",
            provider=exc.provider or t.provider, status=exc.status,
            request_id=exc.request_id, retry_after=exc.retry_after, code=exc.code)
        broken.trace = trace  # type: ignore[attr-defined]
        raise broken from exc
    finally:
        state.inflight -= 1
        if outcome == "ok":
            latency = _perf() - t0
            state.breaker.success()
            state.observe(latency)
            trace.attempts.append(Attempt(t.key, "ok", latency))
            trace.elapsed = _perf() - started
        elif outcome == "cancelled":
            state.breaker.release()
            trace.attempts.append(Attempt(t.key, "cancelled", _perf() - t0))
        await close_quietly(events)
