"""Route configuration: the ``[routing]``, ``[routes.*]`` and ``[agents]`` sections.

``Config`` keeps these sections raw (``config.model_extra``); this module validates
them with typed models and compiles each route once into plain objects, so the hot
path reads attributes instead of validating anything per call::

    [routing]                        # defaults for every route
    max_attempts = 3
    retry_budget = 0.2               # retries may add this share of calls (+ retry_budget_min)
    backoff_base = 0.25
    backoff_max = 8.0
    retry_after_cap = 20.0
    health_interval = 0              # seconds between active probes; 0 = off

    [routing.breaker]
    threshold = 5                    # failures within `window` seconds that open a circuit
    window = 30.0
    cooldown = 15.0                  # open -> half-open after this many seconds

    [routes.smart]
    strategy = "priority"
    targets = ["openai/gpt-4o", { model = "openai-eu/gpt-4o", weight = 3 }]
    deadline = 30                    # total, across every retry and fallback
    attempt_timeout = 10
    ttft_timeout = 5                 # streams: first event
    idle_timeout = 10                # streams: gap between events

    [agents]
    pricing = "smart"                # called as "agent:pricing"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import plugbay.routing.retry as retry
from plugbay.errors import ConfigError

if TYPE_CHECKING:
    from plugbay.config import Config

__all__ = [
    "BreakerSettings",
    "RouteSettings",
    "RoutingSettings",
    "TargetSettings",
    "parse_agents",
    "parse_route",
    "parse_routing",
]

SCORE_KEYS = ("coding", "reasoning", "speed", "cost")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BreakerSettings(_Strict):
    threshold: int = Field(default=5, ge=1)
    window: float = Field(default=30.0, gt=0)
    cooldown: float = Field(default=15.0, ge=0)


class RoutingSettings(_Strict):
    """Defaults shared by every route, and the breaker/probe settings."""

    max_attempts: int = Field(default=3, ge=1)
    retries: int = Field(default=retry.RETRIES, ge=0)  # a direct call's, as the SDKs
    retry_budget: float = Field(default=0.2, ge=0)
    retry_budget_min: float = Field(default=10.0, ge=0)
    backoff_base: float = Field(default=retry.BACKOFF_BASE, ge=0)
    backoff_max: float = Field(default=retry.BACKOFF_MAX, ge=0)
    retry_after_cap: float = Field(default=retry.RETRY_AFTER_CAP, ge=0)
    health_interval: float = Field(default=0.0, ge=0)
    ewma_alpha: float = Field(default=0.3, gt=0, le=1)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)


class TargetSettings(_Strict):
    """One target of a route: ``provider/model`` plus optional facts that override the
    plugin's table (context window, capabilities) and capability scores."""

    model: str
    weight: float = Field(default=1.0, ge=0)
    arm: str | None = None
    context_window: int | None = Field(default=None, gt=0)
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json_schema: bool | None = None
    scores: dict[str, float] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _provider_model(cls, value: str) -> str:
        provider, sep, model = value.partition("/")
        if not sep or not provider or not model:
            raise ValueError(f"target {value!r} must be written as 'provider/model'")
        return value

    @field_validator("scores")
    @classmethod
    def _score_keys(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SCORE_KEYS))
        if unknown:
            raise ValueError(f"unknown score {unknown[0]!r}; use {', '.join(SCORE_KEYS)}")
        return value


class RouteSettings(_Strict):
    strategy: str = "priority"
    targets: list[TargetSettings] = Field(min_length=1)
    deadline: float | None = Field(default=None, gt=0)
    attempt_timeout: float | None = Field(default=None, gt=0)
    ttft_timeout: float | None = Field(default=None, gt=0)
    idle_timeout: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)
    context_failover: bool = True
    content_filter_failover: bool = False
    hedge: str | float | None = None  # "p90" (a latency percentile) or seconds
    hedge_after: float = Field(default=1.0, gt=0)  # the hedge delay before 5 samples
    experiment: str | None = None
    weights: dict[str, float] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("strategy")
    @classmethod
    def _strategy_name(cls, value: str) -> str:
        from plugbay.routing.strategies import canonical_name

        return canonical_name(value)

    @field_validator("targets", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"model": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("hedge")
    @classmethod
    def _hedge(cls, value: str | float | None) -> str | float | None:
        from plugbay.routing.hedge_rule import HedgeRule

        HedgeRule.of(value, 1.0)  # raises ValueError naming the accepted forms
        return value

    @field_validator("weights")
    @classmethod
    def _weight_keys(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SCORE_KEYS))
        if unknown:
            raise ValueError(f"unknown weight {unknown[0]!r}; use {', '.join(SCORE_KEYS)}")
        return value


def _validate(model: type[_Strict], data: Any, file: str | None, key: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        raise ConfigError(err["msg"], file=file, key=f"{key}{loc}") from None


def parse_routing(config: Config) -> RoutingSettings:
    raw = (config.model_extra or {}).get("routing", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", file=config.source, key="routing")
    result: RoutingSettings = _validate(RoutingSettings, dict(raw), config.source, "routing")
    return result


def parse_route(name: str, data: Any, *, file: str | None = None,
                strategies: Mapping[str, Any] | None = None) -> RouteSettings:
    """Validate one route table; ``strategies`` (the registry) checks the strategy name."""
    key = f"routes.{name}"
    if not name or "/" in name or name.startswith("agent:"):
        raise ConfigError("a route name must be non-empty, without '/' or an 'agent:' prefix",
                          file=file, key=key)
    if not isinstance(data, Mapping):
        raise ConfigError("must be a table", file=file, key=key)
    route: RouteSettings = _validate(RouteSettings, dict(data), file, key)
    if strategies is not None and route.strategy not in strategies:
        import difflib

        near = difflib.get_close_matches(route.strategy, list(strategies), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ConfigError(f"unknown strategy {route.strategy!r}; {hint}known: "
                          f"{', '.join(sorted(strategies))}", file=file, key=f"{key}.strategy")
    if route.strategy in ("weighted", "ab") and not any(t.weight > 0 for t in route.targets):
        raise ConfigError("at least one target needs a weight above 0", file=file,
                          key=f"{key}.targets")
    return route


def parse_routes(config: Config, strategies: Mapping[str, Any]) -> dict[str, RouteSettings]:
    raw = (config.model_extra or {}).get("routes", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", file=config.source, key="routes")
    return {name: parse_route(name, data, file=config.source, strategies=strategies)
            for name, data in raw.items()}


def parse_agents(config: Config, routes: Mapping[str, Any]) -> dict[str, str]:
    raw = (config.model_extra or {}).get("agents", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", file=config.source, key="agents")
    out: dict[str, str] = {}
    for agent, route in raw.items():
        if not isinstance(route, str):
            raise ConfigError("must name a route (a string)", file=config.source,
                              key=f"agents.{agent}")
        if route not in routes:
            raise ConfigError(f"names unknown route {route!r}", file=config.source,
                              key=f"agents.{agent}")
        out[agent] = route
    return out
