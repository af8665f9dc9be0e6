"""The router: routes called like models, with retries, deadlines, breakers and failover.

One ``Router`` per ``Client`` (built on first use from the config). A call:

1. takes the route's targets whose circuit is not open, then the filter hooks
   (``Router.filters``; the budget/ledger work plugs in there);
2. lets the route's strategy order them (primary first), recording its reason;
3. runs one retry loop over that order under the total deadline, each attempt
   under the per-attempt timeout, waiting (full jitter, or the server's
   ``retry_after`` up to a cap) only before trying a target again, and spending
   the shared retry budget on every attempt after the first.

Streams may fail over until their first event reaches the caller; after that a
failure raises ``StreamError`` (its ``partial`` holds the text so far).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import plugbay.routing.retry as _retry
from plugbay import errors
from plugbay.routing.breaker import CircuitBreaker, CircuitInfo
from plugbay.routing.committed import committed
from plugbay.routing.facts import target_facts
from plugbay.routing.hedge import hedged
from plugbay.routing.plan import Plan
from plugbay.routing.probes import Probes
from plugbay.routing.routes import (
    RouteSettings,
    parse_agents,
    parse_route,
    parse_routes,
    parse_routing,
)
from plugbay.routing.state import Call, CompiledRoute, RouteTarget, TargetState
from plugbay.routing.strategies import STRATEGIES, make_strategy
from plugbay.routing.timing import close_quietly, min_limit, next_event, time_left
from plugbay.routing.trace import Attempt, RouteTrace

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from plugbay.call import Call as PipelineCall
    from plugbay.config import Config
    from plugbay.pipeline import CompleteNext, StreamNext
    from plugbay.targets import Targets
    from plugbay.types import Completion, ModelInfo, Price, Request, StreamEvent

    Health = Callable[..., Awaitable[Any]]

__all__ = ["CircuitOpenError", "Filter", "NoTargetError", "Router"]

Filter = Callable[[list[RouteTarget], Call], list[RouteTarget]]
_perf = time.perf_counter


class CircuitOpenError(errors.OverloadedError):
    """Every target of the route has an open circuit. ``retry_after``: the soonest
    half-open moment."""


class NoTargetError(errors.InvalidRequestError):
    """No target of the route can serve this request (a filter or the strategy's needs
    check left none)."""


class Router:
    """Routes, agents, breakers and live target stats of one ``Client``.

    ``targets`` resolves provider instances (facts, prices); ``timeout`` is the default
    deadline of a route that names none; ``health`` (``Client.ahealth``) feeds the
    active probes. ``state_hooks`` see every new ``TargetState`` (shared breakers)."""

    def __init__(self, config: Config, targets: Targets, *, timeout: float | None = None,
                 health: Health | None = None) -> None:
        self.config = config
        self.targets = targets
        self.timeout = timeout
        self.health = health
        self.state_hooks: list[Callable[[TargetState], None]] = []
        self.settings = parse_routing(config)
        s = self.settings
        self.budget = _retry.RetryBudget(s.retry_budget, s.retry_budget_min)
        self.states: dict[str, TargetState] = {}
        self.routes: dict[str, CompiledRoute] = {}
        self.filters: list[Filter] = []
        self.probes = Probes(self)
        self._known: set[str] | None = None
        self._probe_interval = s.health_interval
        for name, settings in parse_routes(config, STRATEGIES).items():
            self._compile(name, settings, config.source)
        self.agents: dict[str, str] = parse_agents(config, self.routes)

    # ------------------------------------------------------------ building

    def state(self, key: str) -> TargetState:
        """The live state of ``provider/model``, made on first use."""
        state = self.states.get(key)
        if state is None:
            b = self.settings.breaker
            breaker = CircuitBreaker(key, threshold=b.threshold, window=b.window,
                                     cooldown=b.cooldown)
            state = self.states[key] = TargetState(key, breaker, self.settings.ewma_alpha)
            for hook in self.state_hooks:
                hook(state)
        return state

    def _compile(self, name: str, settings: RouteSettings, file: str | None) -> CompiledRoute:
        if self._known is None:
            self._known = set(self.targets.names())
        known = self._known
        for i, t in enumerate(settings.targets):
            provider = t.model.partition("/")[0]
            if provider not in known:
                raise errors.ConfigError(
                    f"unknown provider {provider!r} (known: {', '.join(sorted(known)) or 'none'})",
                    file=file, key=f"routes.{name}.targets[{i}]")
        targets = [RouteTarget(t, self.state(t.model), i) for i, t in enumerate(settings.targets)]
        route = CompiledRoute(name, settings, targets, make_strategy(settings, self),
                              settings.max_attempts or self.settings.max_attempts)
        self.routes[name] = route
        return route

    def add_route(self, name: str, settings: RouteSettings | Mapping[str, Any] | None = None,
                  **fields: Any) -> CompiledRoute:
        """Define (or replace) a route in code: ``add_route("smart", strategy="priority",
        targets=["a/m", "b/m"], deadline=10)``."""
        if not isinstance(settings, RouteSettings):
            settings = parse_route(name, {**(settings or {}), **fields}, strategies=STRATEGIES)
        return self._compile(name, settings, None)

    def add_agent(self, agent: str, route: str) -> None:
        """Map ``agent:<agent>`` to ``route``."""
        if route not in self.routes:
            raise errors.ConfigError(f"names unknown route {route!r}", key=f"agents.{agent}")
        self.agents[agent] = route

    def resolve(self, name: str) -> CompiledRoute | None:
        """The route ``name`` (or ``agent:<name>``) names, else ``None``."""
        route = self.routes.get(name)
        if route is None and name.startswith("agent:"):
            agent = name[6:]
            target = self.agents.get(agent)
            if target is None:
                raise self.unknown(name)
            route = self.routes[target]
        return route

    def unknown(self, name: str) -> errors.PlugbayError:
        """The error for a name with no ``/`` that is no route or agent, with the closest:
        a ``ConfigError`` for ``agent:<name>``, else a ``PluginError`` (no such model)."""
        import difflib

        routes = list(self.routes)
        agents = [f"agent:{a}" for a in self.agents]
        what = "agent" if name.startswith("agent:") else "route"
        known = routes + agents
        # A bare agent name ("pricing") is close to its "agent:pricing" too.
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5) or [
            a for a in agents if a[6:] == name]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        have = (f" (configured: {', '.join(known)})" if known else
                " (no routes or agents are configured: [routes.<name>] in plugbay.toml)")
        message = (f"unknown {what} {name!r}{hint}{have}; a model is written as "
                   "provider/model, e.g. openai/gpt-4o-mini")
        if what == "agent":
            return errors.ConfigError(f"{message} (no agent {name[6:]!r})",
                                      file=self.config.source, key="agents")
        return errors.PluginError(message)

    def circuits(self) -> list[CircuitInfo]:
        return [self.states[k].breaker.info() for k in sorted(self.states)]

    # ------------------------------------------------------------ model facts

    def facts(self, target: RouteTarget) -> ModelInfo | None:
        """The target's ModelInfo: the plugin's table, overridden by the route's config."""
        if target.facts is None:
            target.facts = target_facts(self.targets, target)
        return target.facts

    def price(self, target: RouteTarget) -> Price | None:
        if target.price is False:
            target.price = self.targets.get(target.provider).price(target.model_id)
        return target.price  # type: ignore[return-value]

    # ------------------------------------------------------------ the plan

    def _begin(self, route: CompiledRoute, call: Call, trace: RouteTrace) -> Plan:
        if self._probe_interval:
            self.probes.ensure()
        self.budget.calls += 1  # deposit(), inlined: this runs on every call
        targets = route.targets
        eligible = [t for t in targets if t.state.breaker.available()]
        closed = len(eligible) != len(targets)
        for f in self.filters:
            eligible = f(eligible, call)
        if not eligible:
            raise self.none_left(route, closed, trace)
        ordered, reason = route.strategy.order(eligible, call)
        if closed:
            reason += "; circuit open: " + ", ".join(
                t.key for t in targets if not t.state.breaker.available())
        trace.reason = reason
        trace.arm = call.arm
        trace.decision = [t.key for t in ordered]
        if not ordered:
            exc = NoTargetError(f"route {route.name!r}: {reason}")
            exc.trace = trace  # type: ignore[attr-defined]
            raise exc
        return Plan(self, route, ordered, trace)

    def none_left(self, route: CompiledRoute, closed: bool, trace: RouteTrace,
                   ) -> errors.APIError:
        waits = [t.state.breaker.info().retry_in for t in route.targets]
        if all(not t.state.breaker.available() for t in route.targets):
            soonest = min((w for w in waits if w is not None), default=None)
            trace.reason = "every circuit is open"
            exc: errors.APIError = CircuitOpenError(
                f"route {route.name!r}: every target's circuit is open", retry_after=soonest)
        else:
            trace.reason = "filters left no target"
            exc = NoTargetError(f"route {route.name!r}: the filters left no target")
        exc.trace = trace  # type: ignore[attr-defined]
        return exc

    def _limit(self, route: CompiledRoute, timeout: float | None) -> float | None:
        if timeout is not None:
            return timeout
        return route.deadline if route.deadline is not None else self.timeout

    @staticmethod
    def _attempt_limit(route: CompiledRoute, limit: float | None) -> float | None:
        """The route's ``attempt_timeout``; by default an equal share of the deadline per
        target, so a black-holed first target leaves time to fail over. A target seen to
        be slow on average gets up to 4 times its mean latency instead of less."""
        if route.attempt_timeout is not None or limit is None:
            return route.attempt_timeout
        n = len(route.targets)
        if n < 2:
            return None
        share = limit / n
        slowest = max((t.state.latency or 0.0) for t in route.targets)
        return min(limit, max(share, 4 * slowest))

    # ------------------------------------------------------------ complete

    async def complete(self, route: CompiledRoute, call: PipelineCall,
                       next: CompleteNext) -> Completion:
        """Run ``call`` on ``route``: ``next`` once per attempt, each with its target."""
        request = call.request
        rcall = Call(route, request, False, call.route_key, call.tags)
        trace = call.outcome.trace = RouteTrace(route.name, route.strategy_name)
        started = _perf()
        limit = self._limit(route, call.timeout)
        end = started + limit if limit is not None else None
        plan = self._begin(route, rcall, trace)
        t = plan.first()
        per_attempt = self._attempt_limit(route, limit)
        targets = self.targets

        def attempt(t: RouteTarget) -> Awaitable[Completion]:
            req = request if t.model_id == request.model else _with_model(request, t.model_id)
            wait = per_attempt
            if end is not None:
                left = end - _perf()
                if wait is None or left < wait:
                    wait = left if left > 0 else 0.0
            return next(call.attempt(targets.get(t.provider), req, wait))

        if route.hedge is not None and len(plan.order) > 1:
            won = await hedged(route, plan, t, attempt, end, call.outcome)
            if isinstance(won, tuple):
                completion, t, t0 = won
                return self._won(t, t0, completion, trace, started)
            t = won
        while True:
            state = t.state
            state.inflight += 1
            t0 = _perf()
            try:
                completion = await attempt(t)
            except errors.APIError as exc:
                state.inflight -= 1
                t = await plan.failed(t, exc, _perf() - t0, end)
                continue
            except BaseException:  # cancelled, or a plugin bug: no verdict on the target
                state.inflight -= 1
                state.breaker.release()
                trace.attempts.append(Attempt(t.key, "cancelled", _perf() - t0))
                raise
            return self._won(t, t0, completion, trace, started)

    @staticmethod
    def _won(t: RouteTarget, t0: float, completion: Completion, trace: RouteTrace,
             started: float) -> Completion:
        state = t.state
        state.inflight -= 1
        latency = _perf() - t0
        state.breaker.success()
        state.observe(latency)
        trace.attempts.append(Attempt(t.key, "ok", latency))
        trace.elapsed = _perf() - started
        completion.__dict__["trace"] = trace  # not pydantic's __setattr__: ~1.5 us
        completion.__pydantic_fields_set__.add("trace")
        return completion

    # ------------------------------------------------------------ stream

    async def stream(self, route: CompiledRoute, call: PipelineCall,
                     next: StreamNext) -> AsyncIterator[StreamEvent]:
        """Stream ``call`` on ``route``: fail over until the first event, then commit."""
        request = call.request
        rcall = Call(route, request, True, call.route_key, call.tags)
        trace = call.outcome.trace = RouteTrace(route.name, route.strategy_name)
        limit = self._limit(route, call.timeout)
        started = _perf()
        end = started + limit if limit is not None else None
        plan = self._begin(route, rcall, trace)
        t = plan.first()
        first_limit = min_limit(route.ttft_timeout, self._attempt_limit(route, limit))
        targets = self.targets

        async def attempt(t: RouteTarget) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
            """Open a stream on ``t`` and wait for its first event."""
            req = request if t.model_id == request.model else _with_model(request, t.model_id)
            events: AsyncIterator[StreamEvent] | None = None
            try:
                events = next(call.attempt(targets.get(t.provider), req, time_left(None, end)))
                return await next_event(events, time_left(first_limit, end), "first event",
                                        t.provider), events
            except StopAsyncIteration:
                await close_quietly(events)
                raise errors.StreamError("stream ended before its first event",
                                         provider=t.provider) from None
            except BaseException:
                await close_quietly(events)
                raise

        won: tuple[tuple[StreamEvent, AsyncIterator[StreamEvent]], RouteTarget, float] | None
        won = None
        if route.hedge is not None and len(plan.order) > 1:
            raced = await hedged(route, plan, t, attempt, end, call.outcome, stream=True,
                                 discard=lambda opened: close_quietly(opened[1]))
            if isinstance(raced, tuple):
                won = raced
            else:
                t = raced
        if won is not None:
            (first, events), t, t0 = won
            chosen, out = targets.get(t.provider), call.outcome  # the winner's, not the loser's
            out.provider, out.model, out.price = chosen.name, t.model_id, chosen.price(t.model_id)
            state = t.state
        while won is None:
            state = t.state
            state.inflight += 1
            t0 = _perf()
            try:
                first, events = await attempt(t)
            except errors.APIError as exc:
                state.inflight -= 1
                t = await plan.failed(t, exc, _perf() - t0, end)
                continue
            except BaseException:
                state.inflight -= 1
                state.breaker.release()
                trace.attempts.append(Attempt(t.key, "cancelled", _perf() - t0))
                raise
            break
        # Committed: the first event goes to the caller, so no failover from here on.
        relay = committed(first, events, t, t0, route.idle_timeout, end, trace, started)
        try:
            async for event in relay:
                yield event
        finally:
            await relay.aclose()  # at once, when the caller stops early too

    # ------------------------------------------------------------ active health

    async def probe(self, timeout: float = 10.0) -> None:
        """Run every route provider's ``health`` hook once and feed the breakers."""
        await self.probes.probe(timeout)

    async def aclose(self) -> None:
        """Stop the active probes (on every loop they run on)."""
        await self.probes.aclose()


# ------------------------------------------------------------------ helpers


def _with_model(request: Request, model: str) -> Request:
    return request.model_copy(update={"model": model})
