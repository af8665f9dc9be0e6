"""The compiled, per-process state the router and the strategies read.

``TargetState`` is shared by every route that names the same ``provider/model``: its
breaker, in-flight count and latency averages. ``RouteTarget`` is one entry of one
route (weight, arm, facts from config). ``Call`` is what a strategy may know about
the request being routed.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from plugbay.routing.breaker import CircuitBreaker
from plugbay.routing.hedge_rule import HedgeRule

if TYPE_CHECKING:
    from plugbay.routing.routes import RouteSettings, TargetSettings
    from plugbay.routing.strategies import Strategy
    from plugbay.types import ModelInfo, Price, Request

__all__ = ["Call", "CompiledRoute", "RouteTarget", "TargetState"]

RECENT = 64  # latencies kept per target


class TargetState:
    """Live facts about one provider instance + model."""

    __slots__ = ("alpha", "breaker", "inflight", "key", "latency", "recent", "recent_ttft",
                 "samples", "ttft")

    def __init__(self, key: str, breaker: CircuitBreaker, alpha: float = 0.3) -> None:
        self.key = key
        self.breaker = breaker
        self.alpha = alpha
        self.inflight = 0
        self.latency: float | None = None  # EWMA of whole-call latency, seconds
        self.ttft: float | None = None  # EWMA of time to first event (streams)
        self.samples = 0
        # the last latencies and times to first event, for hedging's percentiles
        self.recent: deque[float] = deque(maxlen=RECENT)
        self.recent_ttft: deque[float] = deque(maxlen=RECENT)

    def observe(self, latency: float) -> None:
        old = self.latency
        self.latency = latency if old is None else old + self.alpha * (latency - old)
        self.samples += 1
        self.recent.append(latency)

    def observe_ttft(self, ttft: float) -> None:
        old = self.ttft
        self.ttft = ttft if old is None else old + self.alpha * (ttft - old)
        self.recent_ttft.append(ttft)


class RouteTarget:
    """One target of a route."""

    __slots__ = ("arm", "facts", "index", "key", "model_id", "price", "provider", "scores",
                 "settings", "state", "weight")

    def __init__(self, settings: TargetSettings, state: TargetState, index: int) -> None:
        self.settings = settings
        self.key = settings.model
        self.provider, _, self.model_id = settings.model.partition("/")
        self.weight = settings.weight
        self.arm = settings.arm or settings.model
        self.scores = dict(settings.scores)
        self.state = state
        self.index = index
        # Filled lazily by the router from config and the plugin's table (see facts()).
        self.facts: ModelInfo | None = None
        self.price: Price | bool | None = False  # False: not looked up yet

    def __repr__(self) -> str:
        return f"RouteTarget({self.key!r})"


class CompiledRoute:
    """A validated route with everything the hot path needs precomputed."""

    __slots__ = (
        "attempt_timeout",
        "content_filter_failover",
        "context_failover",
        "deadline",
        "experiment",
        "hedge",
        "idle_timeout",
        "max_attempts",
        "name",
        "settings",
        "strategy",
        "strategy_name",
        "targets",
        "ttft_timeout",
        "weights",
    )

    def __init__(self, name: str, settings: RouteSettings, targets: list[RouteTarget],
                 strategy: Strategy, max_attempts: int) -> None:
        self.name = name
        self.settings = settings
        self.targets = targets
        self.strategy = strategy
        self.strategy_name = settings.strategy
        self.deadline = settings.deadline
        self.attempt_timeout = settings.attempt_timeout
        self.ttft_timeout = settings.ttft_timeout
        self.idle_timeout = settings.idle_timeout
        self.max_attempts = max_attempts
        self.context_failover = settings.context_failover
        self.content_filter_failover = settings.content_filter_failover
        self.experiment = settings.experiment or name
        self.weights = dict(settings.weights)
        self.hedge = HedgeRule.of(settings.hedge, settings.hedge_after)


class Call:
    """What a strategy may read about the call being routed."""

    __slots__ = ("arm", "key", "needs", "request", "route", "stream", "tags")

    def __init__(self, route: CompiledRoute, request: Request, stream: bool,
                 key: str | None, tags: dict[str, str] | None = None) -> None:
        self.route = route
        self.tags = tags
        self.request = request
        self.stream = stream
        self.key = key  # the A/B request key (route_key=, else request.user, else the prompt)
        self.arm: str | None = None
        self.needs: Any = None  # computed on demand by strategies that care
