"""Routing and reliability: named routes called like models, strategies, one retry loop
with deadlines, circuit breakers and failover. See ``docs/reliability.md``.

The ``Client`` builds its ``Router`` on first use; reach it as ``client.router``.
"""

from __future__ import annotations

from typing import Any

from plugbay.routing.breaker import CircuitBreaker, CircuitInfo
from plugbay.routing.routes import RouteSettings, RoutingSettings, TargetSettings
from plugbay.routing.state import Call, CompiledRoute, RouteTarget, TargetState
from plugbay.routing.strategies import STRATEGIES, Strategy, register_strategy
from plugbay.routing.trace import Attempt, RouteTrace

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


def __getattr__(name: str) -> Any:
    # The router imports the client module; load it only when asked for.
    if name in ("Router", "CircuitOpenError", "NoTargetError"):
        from plugbay.routing import router

        return getattr(router, name)
    raise AttributeError(f"module 'plugbay.routing' has no attribute {name!r}")
