"""The metering layer: one ledger row, live stats and an OpenTelemetry span per attempt.

Nothing here waits for I/O: the row goes to the ledger's background writer. The cost
of the attempt is left on ``call.outcome.cost`` for the admission layer above, which
settles budgets with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay._aio import close_quietly
from plugbay.cost.ledger.records import UsageRecord, cost_total
from plugbay.pipeline import Layer

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.cost.ledger import Ledger
    from plugbay.cost.stats import Stats
    from plugbay.embeddings import Embeddings
    from plugbay.pipeline import CompleteNext, EmbedNext, StreamNext
    from plugbay.types import Completion, Price, StreamEvent, Usage

__all__ = ["Metering"]

_perf = time.perf_counter
_now = time.time
_CANCELLED = (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt)


class Metering(Layer):
    """``ledger`` may be ``None`` (``[ledger] path = "off"``); ``otel`` is set by
    ``plugbay.otel.instrument`` or ``[otel] enabled``."""

    name = "metering"

    def __init__(self, ledger: Ledger | None, stats: Stats, *, record_text: bool = False,
                 otel: Any = None) -> None:
        self.ledger = ledger
        self.stats = stats
        self.record_text = record_text
        self.otel = otel

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        # _timed's body, inlined: this is the hot path of every completion
        started = _perf()
        otel = self.otel
        span = None
        try:
            if otel is None:
                c = await next(call)
            else:
                span = otel.start(call)
                with otel.current(span):  # the request carries its traceparent
                    c = await next(call)
        except BaseException as exc:
            self.failed(call, exc, started, span=span)
            raise
        self.record(call, c.usage, c.price, c.latency, c.time_to_first_token, None, None,
                    c.id, c.text, span, c.model)
        return c

    async def embed(self, call: Call, next: EmbedNext) -> Embeddings:
        """One row per batch: its input tokens at the model's price (no output)."""
        e: Embeddings
        e, span = await self._timed(call, next)
        self.record(call, e.usage, e.price, e.latency, None, None, None, None, None, span,
                    e.model)
        return e

    async def _timed(self, call: Call, next: Any) -> tuple[Any, Any]:
        """``next(call)`` inside the attempt's span; a failure is recorded here."""
        started = _perf()
        otel = self.otel
        span = None
        try:
            if otel is None:
                return await next(call), None
            span = otel.start(call)
            with otel.current(span):  # the request carries its traceparent
                return await next(call), span
        except BaseException as exc:
            self.failed(call, exc, started, span=span)
            raise

    async def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        from plugbay.streaming import StreamCollector

        started = _perf()
        above: StreamCollector | None = call.outcome.collector
        own = above is None  # no AsyncStream above collects: collect here
        col = StreamCollector() if above is None else above
        col.started = started
        outcome: BaseException | None = None
        otel = self.otel
        span = None if otel is None else otel.start(call)
        events = next(call)
        try:
            if span is not None:  # the request goes out with the first step
                with otel.current(span):
                    first = await anext(events, None)
                if first is None:
                    return
                if own:
                    col.add(first)
                yield first
            if own:
                async for event in events:
                    col.add(event)
                    yield event
            else:
                async for event in events:
                    yield event
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            await close_quietly(events)
            price = call.outcome.price
            if outcome is None and col.finish is None:
                outcome = errors.StreamError("stream ended before the provider's final event")
            if outcome is None:
                self.record(call, col.usage, price, _perf() - started, col.ttft, None, None,
                            None, col.text, span)
            else:
                self.failed(call, outcome, started, col.usage, price, col.ttft, span)

    def failed(self, call: Call, exc: BaseException, started: float, usage: Usage | None = None,
               price: Price | None = None, ttft: float | None = None,
               span: Any = None) -> None:
        cancelled = isinstance(exc, _CANCELLED)
        self.record(call, usage, price, _perf() - started, ttft,
                    None if cancelled else type(exc).__name__,
                    "cancelled" if cancelled else "error",
                    getattr(exc, "request_id", None), None, span)

    def record(self, call: Call, usage: Usage | None, price: Price | None,
               latency: float | None, ttft: float | None, error: str | None,
               status: str | None, request_id: str | None, text: str | None,
               span: Any = None, response_model: str | None = None) -> None:
        cost: float | None = None
        currency = "USD"
        if usage is not None:
            inp, out = usage.input_tokens, usage.output_tokens
            cached, write, reasoning = (usage.cached_input_tokens, usage.cache_write_tokens,
                                        usage.reasoning_tokens)
            if price is not None:
                cost = cost_total(usage, price)
                currency = price.currency
        else:
            inp = out = cached = write = reasoning = 0
        call.outcome.cost = cost
        target = call.target
        provider = target.name if target is not None else call.model.partition("/")[0]
        self.stats.observe(provider, latency, ttft, error, inp, out, cached, reasoning, cost)
        if self.ledger is None and span is None:
            return  # no row to write and no span to end: skip building the record
        prompt = None
        if self.record_text:
            prompt = "\n\n".join(f"{m.role}: {m.text()}" for m in call.request.messages)
        record = UsageRecord(
            _now(), provider, call.request.model, call.route, inp, out, cached, write,
            reasoning, cost, currency, latency, ttft,
            status or ("ok" if error is None else "error"), error, call.stream, call.tags,
            request_id, prompt, text if self.record_text else None, call.outcome.cache)
        if self.ledger is not None:
            self.ledger.record(record)
        if span is not None and self.otel is not None:
            system = target.ctx.plugin if target is not None else provider
            self.otel.end(span, record, system, response_model)

    def record_hit(self, call: Call, completion: Completion | None,
                   saved: float | None) -> None:
        """A cache hit: a row with cost 0 and the cost it saved (the cache layer calls it)."""
        provider = call.outcome.provider or call.model.partition("/")[0]
        usage = completion.usage if completion is not None else None
        latency = _perf() - call.started
        inp = usage.input_tokens if usage is not None else 0
        out = usage.output_tokens if usage is not None else 0
        self.stats.observe(provider, latency, None, None, 0, 0, 0, 0, 0.0)
        if self.ledger is None:
            return
        record = UsageRecord(
            _now(), provider, call.outcome.model or call.request.model, call.route, inp, out,
            0, 0, 0, 0.0, "USD", latency, None, "ok", None, call.stream, call.tags, None,
            None, None, "hit", saved)
        self.ledger.record(record)
