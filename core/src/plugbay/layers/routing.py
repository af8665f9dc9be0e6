"""The routing layer: a call to a route (or ``agent:<name>``) runs the route's plan; a
call to ``provider/model`` is retried on its own target.

Everything below sees one attempt at a time, with the attempt's target, request and
time on the ``Call``. A direct call is retried, like the official SDKs do, on a
retryable error (429, 5xx, 529, a timeout, a reset connection): at most
``[routing] retries`` times (2; 0 turns it off), after the server's ``Retry-After`` or a
full-jitter backoff, and never past the call's deadline. A stream is retried only
before its first event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from plugbay import errors
from plugbay._aio import close_quietly
from plugbay.pipeline import Layer
from plugbay.routing.retry import RETRY, classify, delay_for

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.embeddings import Embeddings
    from plugbay.pipeline import CompleteNext, EmbedNext, StreamNext
    from plugbay.routing.retry import RetryPolicy
    from plugbay.routing.router import Router
    from plugbay.types import Completion, StreamEvent

__all__ = ["Routing"]

_perf = time.perf_counter


class Routing(Layer):
    """``router``: ``None`` when no route is configured; ``timeout``: the client's
    default deadline for a call that names none."""

    name = "routing"

    def __init__(self, router: Router | None, settings: RetryPolicy,
                 timeout: float | None) -> None:
        self.router = router
        self.settings = settings
        self.retries = settings.retries
        self.timeout = timeout

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        if call.target is None:
            assert self.router is not None
            return await self.router.complete(self.router.routes[call.route or ""], call,
                                              next)
        if not self.retries:
            return await next(call)
        retry = 0
        attempt = call
        while True:
            try:
                return await next(attempt)
            except errors.APIError as exc:
                attempt = await self._again(call, exc, retry)
                retry += 1

    async def embed(self, call: Call, next: EmbedNext) -> Embeddings:
        """One batch of embeddings: retried and failed over exactly as a completion (one
        awaited answer per attempt; the plan, the breakers and the trace do not care
        what the answer is)."""
        got: Any = await self.complete(call, cast("CompleteNext", next))
        return cast("Embeddings", got)

    def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        if call.target is None:
            assert self.router is not None
            return self.router.stream(self.router.routes[call.route or ""], call, next)
        if not self.retries:
            return next(call)
        return self._stream(call, next)

    async def _stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        retry = 0
        attempt = call
        while True:
            events = next(attempt)
            try:
                first = await events.__anext__()
            except StopAsyncIteration:
                return
            except errors.APIError as exc:
                await close_quietly(events)
                attempt = await self._again(call, exc, retry)
                retry += 1
                continue
            except BaseException:
                await close_quietly(events)
                raise
            break
        try:  # committed: from the first event on, an error goes to the caller
            yield first
            async for event in events:
                yield event
        finally:
            await close_quietly(events)

    async def _again(self, call: Call, exc: errors.APIError, retry: int) -> Call:
        """The next attempt after ``exc`` (after its wait), or raise ``exc``."""
        if retry >= self.retries or classify(exc) != RETRY or exc.code == "client_rate_limit":
            raise exc  # (the client's own limiter has waited as its on_limit says)
        s = self.settings
        delay = delay_for(exc, retry, s.backoff_base, s.backoff_max, s.retry_after_cap)
        left = call.left(self.timeout)
        if left is not None and delay >= left:
            raise exc  # no time for another try inside the deadline
        if delay > 0:
            await asyncio.sleep(delay)
        target = call.target
        assert target is not None
        return call.attempt(target, call.request, call.left(self.timeout))

    async def aclose(self) -> None:
        if self.router is not None:
            await self.router.aclose()
