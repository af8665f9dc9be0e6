"""Routing and reliability: named routes called like models, strategies, one retry loop
with deadlines, circuit breakers and failover. See ``docs/reliability.md``.

The ``Client`` builds its ``Router`` on first use; reach it as ``client.router``. The
pipeline's routing layer (``plugbay.layers.routing``) runs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.routing.breaker import CircuitBreaker, CircuitInfo
    from plugbay.routing.router import CircuitOpenError, NoTargetError, Router
    from plugbay.routing.routes import RouteSettings, RoutingSettings, TargetSettings
    from plugbay.routing.state import Call, CompiledRoute, RouteTarget, TargetState
    from plugbay.routing.strategies import STRATEGIES, Strategy, register_strategy
    from plugbay.routing.trace import Attempt, RouteTrace

# Names load on first access: a direct call imports only ``routing.retry`` (its retries),
# not the route models, whose pydantic schemas cost a cold start ~100 ms.
_WHERE = {
    **dict.fromkeys(("CircuitBreaker", "CircuitInfo"), "breaker"),
    **dict.fromkeys(("CircuitOpenError", "NoTargetError", "Router"), "router"),
    **dict.fromkeys(("RouteSettings", "RoutingSettings", "TargetSettings"), "routes"),
    **dict.fromkeys(("Call", "CompiledRoute", "RouteTarget", "TargetState"), "state"),
    **dict.fromkeys(("STRATEGIES", "Strategy", "register_strategy"), "strategies"),
    **dict.fromkeys(("Attempt", "RouteTrace"), "trace"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'plugbay.routing' has no attribute {name!r}")
    return getattr(import_module(f"plugbay.routing.{module}"), name)


__all__ = [
    "STRATEGIES",
    "Attempt",
    "Call",
    "CircuitBreaker",
    "CircuitInfo",
    "CircuitOpenError",
    "CompiledRoute",
    "NoTargetError",
    "RouteSettings",
    "RouteTarget",
    "RouteTrace",
    "Router",
    "RoutingSettings",
    "Strategy",
    "TargetSettings",
    "TargetState",
    "register_strategy",
]

