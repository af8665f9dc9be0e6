"""The metering hooks on the call path: budgets and rate limits before a call; stats, the
ledger, budget settlement and OpenTelemetry after it. One ``Meter`` per ``Client``.

Cost on the hot path: with only the (default) ledger on, ``begin`` builds a small ticket
and ``end`` computes the cost, updates the in-process stats and enqueues one record for
the background writer; nothing waits for I/O.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.ledger.records import UsageRecord, cost_total
from plugbay.stats import Stats

if TYPE_CHECKING:
    from plugbay.budgets import BudgetManager, Reservation
    from plugbay.client import Client, _Target
    from plugbay.ledger import Ledger
    from plugbay.ratelimit import Permit, RateLimiter
    from plugbay.streaming import AsyncStream, StreamCollector
    from plugbay.types import Completion, Price, Request, StreamEvent, Usage

__all__ = ["CALL", "Downgrade", "Meter", "Ticket", "call_tags"]

log = logging.getLogger("plugbay.ledger")
_perf = time.perf_counter
_now = time.time

# (route name, tags) of the call being made on this task: set by Client.acomplete for
# routed calls and calls with tags, read per attempt in Client._complete.
# Makes the stream to switch to when a hard budget with ``downgrade_to`` refuses one.
Downgrade = Callable[[errors.BudgetExceededError], "AsyncStream | None"]

CALL: contextvars.ContextVar[tuple[str | None, dict[str, str] | None] | None] = \
    contextvars.ContextVar("plugbay_call", default=None)


def call_tags(tags: Mapping[str, Any] | None, params: Mapping[str, Any],
              model: str) -> dict[str, str] | None:
    """The call's ledger tags: ``tags=``, else the request ``metadata``; ``agent:<name>``
    calls are tagged ``agent=<name>`` unless the tags say otherwise."""
    out: dict[str, str] | None = None
    if tags:
        out = {str(k): str(v) for k, v in tags.items()}
    else:
        meta = params.get("metadata")
        if meta:
            out = {str(k): str(v) for k, v in meta.items()}
    if model.startswith("agent:"):
        out = out or {}
        out.setdefault("agent", model[6:])
    return out


class Ticket:
    __slots__ = (
        "key",
        "model",
        "permit",
        "price",
        "prompt",
        "provider",
        "reservation",
        "route",
        "started",
        "stream",
        "tags",
        "tokens",
    )

    def __init__(self, provider: str, model: str, route: str | None,
                 tags: dict[str, str] | None, stream: bool) -> None:
        self.provider = provider
        self.model = model
        self.route = route
        self.tags = tags
        self.stream = stream
        self.started = _perf()
        self.reservation: Reservation | None = None
        self.permit: Permit | None = None
        self.key: str | None = None
        self.price: Price | None = None
        self.prompt: str | None = None
        self.tokens = 0


class Meter:
    """Built from the client's config on the first call."""

    # Reachable from the client's hot path without an import statement per call.
    CALL = CALL
    call_tags = staticmethod(call_tags)

    def __init__(self, client: Client) -> None:
        from plugbay.ledger import Ledger, LedgerSettings
        from plugbay.ratelimit import parse_rate_limits

        self._client = client
        extra = client.config.model_extra or {}
        env = client._env
        settings = LedgerSettings.from_config(extra.get("ledger"), env)
        self.ledger: Ledger | None = (
            Ledger(settings.url, record_text=settings.record_text, batch=settings.batch)
            if settings.url else None)
        self.record_text = settings.record_text
        self.stats = Stats()
        self.otel: Any = None  # plugbay.otel.Instrumentation, when enabled
        self.state = _state_settings(extra.get("state"))
        self.budgets: BudgetManager | None = None
        self.limiter: RateLimiter | None = None
        self._shared: Any = None
        from plugbay.budgets import BudgetManager, parse_budgets

        budgets, bsettings = parse_budgets(extra.get("budgets"))
        specs = parse_rate_limits(extra.get("rate_limits"))
        if self.state.get("backend") == "redis":
            from plugbay.shared_state import SharedState

            self._shared = SharedState(self.state["url"], prefix=self.state["prefix"])
        if budgets:
            store = self._shared.budget_store() if self._shared else None
            self.budgets = BudgetManager(budgets, bsettings, store, self.ledger)
        if specs:
            from plugbay.ratelimit import RateLimiter

            store = self._shared.limit_store() if self._shared else None
            self.limiter = RateLimiter(specs, store)
        self._pre = self.budgets is not None or self.limiter is not None
        if (self._pre or self._shared is not None) and (client._router is not None
                                                          or extra.get("routes")):
            router = client.router  # built now, so that routed calls see these hooks
            if self.budgets is not None:
                router.filters.append(self._budget_filter)
            if self.limiter is not None:
                router.filters.append(self._limit_filter)
            if self._shared is not None:
                self._shared.share_breakers(router)
        if (extra.get("otel") or {}).get("enabled"):
            from plugbay.otel import Instrumentation

            self.otel = Instrumentation()  # the global tracer and meter providers

    # ------------------------------------------------------------ before

    async def begin(self, target: _Target, request: Request, stream: bool,
                    route: str | None = None, tags: dict[str, str] | None = None,
                    ) -> Ticket:
        if route is None and tags is None:
            call = CALL.get()
            if call is not None:
                route, tags = call
        provider = target.ctx.name
        ticket = Ticket(provider, request.model, route, tags, stream)
        if self.record_text:
            ticket.prompt = "\n\n".join(f"{m.role}: {m.text()}" for m in request.messages)
        if self._pre:
            from plugbay.budgets import estimate_cost, estimate_tokens

            client = self._client
            price = ticket.price = client._price(target, request.model)
            if self.budgets is not None:
                estimate = estimate_cost(request, price, self.budgets.output_tokens)
                ticket.reservation = await self.budgets.reserve(
                    provider, request.model, route, tags, estimate)
            if self.limiter is not None:
                out = (request.max_tokens if request.max_tokens is not None
                       else self.budgets.output_tokens if self.budgets else 1024)
                ticket.tokens = estimate_tokens(request) + out
                ticket.key = self.limiter.key(provider, _api_key(target))
                try:
                    ticket.permit = await self.limiter.acquire(provider, ticket.key,
                                                               ticket.tokens)
                except BaseException:
                    if self.budgets is not None:
                        await self.budgets.settle(ticket.reservation, 0.0)
                    raise
        ticket.started = _perf()
        return ticket

    # ------------------------------------------------------------ after

    async def done(self, ticket: Ticket, completion: Completion) -> None:
        await self.end(ticket, usage=completion.usage, price=completion.price,
                       latency=completion.latency, ttft=completion.time_to_first_token,
                       error=None, request_id=completion.id, text=completion.text,
                       limits=completion.extra.get("rate_limits"))

    async def failed(self, ticket: Ticket, exc: BaseException, usage: Usage | None = None,
                     price: Price | None = None, ttft: float | None = None) -> None:
        import asyncio

        cancelled = isinstance(exc, (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt))
        await self.end(ticket, usage=usage, price=price, latency=_perf() - ticket.started,
                       ttft=ttft, error=None if cancelled else type(exc).__name__,
                       status="cancelled" if cancelled else "error",
                       request_id=getattr(exc, "request_id", None), text=None, limits=None,
                       retry_after=(exc.retry_after if isinstance(exc, errors.RateLimitError)
                                    else None))

    async def end(self, ticket: Ticket, *, usage: Usage | None, price: Price | None,
                  latency: float | None, ttft: float | None, error: str | None,
                  request_id: str | None, text: str | None, limits: Any,
                  status: str | None = None, retry_after: float | None = None) -> None:
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
        provider = ticket.provider
        self.stats.observe(provider, latency, ttft, error, inp, out, cached, reasoning, cost)
        record = UsageRecord(
            _now(), provider, ticket.model, ticket.route, inp, out, cached, write, reasoning,
            cost, currency, latency, ttft, status or ("ok" if error is None else "error"),
            error, ticket.stream, ticket.tags, request_id, ticket.prompt,
            text if self.record_text else None)
        if self.ledger is not None:
            self.ledger.record(record)
        if self.otel is not None:
            self.otel.record(record, ticket)
        if self._pre:
            await self._settle(ticket, record, usage, limits, retry_after)

    async def _settle(self, ticket: Ticket, record: UsageRecord, usage: Usage | None,
                      limits: Any, retry_after: float | None) -> None:
        if self.budgets is not None:
            actual = record.cost
            if actual is None and record.status != "ok":
                actual = 0.0  # failed calls are not billed unless usage says so
            await self.budgets.settle_call(ticket.reservation, ticket.provider, ticket.model,
                                           ticket.route, ticket.tags, actual)
        if self.limiter is not None and ticket.key is not None:
            await self.limiter.settle(ticket.permit,
                                      usage.total_tokens if usage is not None else None)
            if limits or retry_after is not None:
                await self.limiter.observe(ticket.provider, ticket.key, limits, retry_after)

    # ------------------------------------------------------------ streams

    async def stream(self, target: _Target, request: Request, events: AsyncIterator[Any],
                     owner: AsyncStream, tags: dict[str, str] | None,
                     downgrade: Downgrade | None = None) -> AsyncIterator[StreamEvent]:
        """Meter a direct stream: reserve before the first event, record when it ends
        (done, failed, or closed early by the caller). A hard budget that names a
        ``downgrade_to`` switches to that stream (``downgrade`` makes it)."""
        try:
            ticket = await self.begin(target, request, True, None, tags)
        except errors.BudgetExceededError as exc:
            await _aclose(events)  # never started
            alt = downgrade(exc) if downgrade is not None else None
            if alt is None:
                raise
            async with alt:
                async for event in alt:
                    yield event
            return
        col = owner.collector
        col.started = ticket.started
        outcome: BaseException | None = None
        try:
            async for event in events:
                yield event
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            await _aclose(events)
            await self._stream_end(ticket, col, outcome, self._client._price(target,
                                                                              request.model))

    async def _stream_end(self, ticket: Ticket, col: StreamCollector,
                          outcome: BaseException | None, price: Price | None) -> None:
        if outcome is None and col.finish is None:
            outcome = errors.StreamError("stream ended before the provider's final event")
        if outcome is None:
            await self.end(ticket, usage=col.usage, price=price,
                           latency=_perf() - ticket.started, ttft=col.ttft, error=None,
                           request_id=None, text=col.text,
                           limits=col.extra.get("rate_limits"))
        else:
            await self.failed(ticket, outcome, usage=col.usage, price=price, ttft=col.ttft)

    def routed_stream(self, inner: AsyncStream, route: str, tags: dict[str, str] | None,
                      ask: tuple[Any, dict[str, Any]] | None = None,
                      downgrade: Downgrade | None = None,
                      switched: list[AsyncStream] | None = None) -> AsyncStream:
        """Meter a routed stream as one call of the target the router chose. ``ask``:
        the messages and params, for the budget estimate; ``downgrade`` makes the stream
        to switch to when a budget refuses before the first event (kept in ``switched``)."""
        from plugbay.streaming import AsyncStream

        meter = self

        async def run() -> AsyncIterator[StreamEvent]:
            reservation = None
            budgets = meter.budgets
            if budgets is not None:  # route, tag and global budgets: the target is not known
                from plugbay.budgets import estimate_cost

                router = meter._client.router
                compiled = router.routes[route]
                messages, params = ask if ask is not None else ("", {})
                params.pop("route_key", None)
                request = meter._client._request(compiled.targets[0].model_id, messages,
                                                 params)
                estimate = max((estimate_cost(request, router.price(t), budgets.output_tokens)
                                for t in compiled.targets), default=0.0)
                try:
                    reservation = await budgets.reserve(None, None, route, tags, estimate)
                except errors.BudgetExceededError as exc:
                    await inner.aclose()
                    alt = downgrade(exc) if downgrade is not None else None
                    if alt is None:
                        raise
                    async with alt:
                        async for event in alt:
                            yield event
                    return
            started = _perf()
            outcome: BaseException | None = None
            alt = None
            yielded = False
            try:
                async for event in inner:
                    yielded = True
                    yield event
            except errors.BudgetExceededError as exc:  # the router's filter: no target left
                alt = None if yielded or downgrade is None else downgrade(exc)
                if alt is None:
                    outcome = exc
                    raise
            except BaseException as exc:
                outcome = exc
                raise
            finally:
                await inner.aclose()
                await meter._routed_end(inner, outcome, route, tags, reservation, started)
            if alt is not None:
                async with alt:
                    async for event in alt:
                        yield event

        def done(collected: Completion) -> Completion:
            if switched and switched[0].completion is not None:
                return switched[0].completion
            return inner.completion or collected

        return AsyncStream(run, model=route, provider=route, on_done=done)

    async def _routed_end(self, inner: AsyncStream, outcome: BaseException | None,
                          route: str, tags: dict[str, str] | None,
                          reservation: Reservation | None, started: float) -> None:
        c = inner.completion
        chosen = _chosen(c, outcome)
        if chosen is None:  # no target was tried (circuits open, filters): no row
            if self.budgets is not None:
                await self.budgets.settle(reservation, 0.0)
            return
        provider, model = chosen
        ticket = Ticket(provider, model, route, tags, True)
        ticket.started = started
        ticket.reservation = reservation
        col = inner.collector
        price = c.price if c is not None else None
        if self.limiter is not None and c is not None:
            # the router opened this stream itself: count it after the fact
            target = self._client._target(provider)
            ticket.key = self.limiter.key(provider, _api_key(target))
            await self.limiter.note(provider, ticket.key,
                                    c.usage.total_tokens if c.usage else 0)
        if outcome is None and c is not None:
            await self.end(ticket, usage=c.usage, price=price, latency=_perf() - started,
                           ttft=col.ttft, error=None, request_id=c.id, text=c.text,
                           limits=c.extra.get("rate_limits"))
        else:
            await self.failed(ticket, outcome or errors.StreamError("no completion"),
                              usage=col.usage, price=price, ttft=col.ttft)

    # ------------------------------------------------------------ routing

    def _budget_filter(self, targets: list[Any], call: Any) -> list[Any]:
        """Router filter: skip targets a hard budget of theirs would refuse. When that
        leaves none, refuse the call here with the budget's own error."""
        budgets = self.budgets
        if budgets is None:
            return targets
        from plugbay.budgets import estimate_cost

        ctx = CALL.get()
        tags = ctx[1] if ctx else None
        router = self._client.router
        keep, over = [], []
        for t in targets:
            estimate = estimate_cost(call.request, router.price(t), budgets.output_tokens)
            b = budgets.blocking(t.provider, t.model_id, call.route.name, tags, estimate)
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
                f"route {call.route.name!r}: every target is over a hard budget: {which}",
                budget=blocked.name, spent=spent, limit=blocked.limit,
                period=blocked.key(budgets.clock()).rpartition(":")[2],
                downgrade_to=blocked.downgrade_to if blocked.on_exceed == "downgrade"
                else None)
        return keep

    def _limit_filter(self, targets: list[Any], call: Any) -> list[Any]:
        """Router filter: prefer targets whose rate limit admits a call now (a full
        window, or a provider that said to wait). If none does, keep them all: the
        attempt then waits or raises as its ``on_limit`` says."""
        limiter = self.limiter
        if limiter is None:
            return targets
        client = self._client
        free = [t for t in targets if not limiter.would_wait(
            t.provider, limiter.key(t.provider, _api_key(client._target(t.provider))))]
        return free or targets

    # ------------------------------------------------------------ lifecycle

    def flush(self, timeout: float = 30.0) -> bool:
        return self.ledger.flush(timeout) if self.ledger is not None else True

    async def aclose(self) -> None:
        if self.ledger is not None:
            self.ledger.flush()
        if self._shared is not None:
            await self._shared.aclose()  # this loop's connections; idempotent


async def _aclose(events: Any) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing must not mask the real outcome
            pass


def _api_key(target: _Target) -> str | None:
    try:
        return target.ctx.api_key()
    except Exception:
        return None


def _chosen(c: Completion | None, exc: BaseException | None) -> tuple[str, str] | None:
    """The provider and model a routed call ended on (from the completion or the trace);
    ``None`` when no target was tried."""
    if c is not None:
        return c.provider, c.model
    trace = getattr(exc, "trace", None)
    tried = [a for a in getattr(trace, "attempts", None) or () if a.outcome != "skipped"]
    if tried:
        provider, _, model = tried[-1].target.partition("/")
        return provider, model
    return None


def _state_settings(section: Any) -> dict[str, Any]:
    table = dict(section) if isinstance(section, Mapping) else {}
    unknown = set(table) - {"backend", "url", "prefix"}
    if unknown:
        raise errors.ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key="state")
    backend = table.get("backend", "memory")
    if backend not in ("memory", "redis"):
        raise errors.ConfigError("must be 'memory' or 'redis'", key="state.backend")
    if backend == "redis" and not table.get("url"):
        table["url"] = "redis://127.0.0.1:6379/0"
    table.setdefault("prefix", "plugbay")
    table["backend"] = backend
    return table
