"""Routing and reliability: named routes called like models, strategies, one retry loop
with deadlines, circuit breakers and failover. See ``docs/reliability.md``.

The ``Client`` builds its ``Router`` on first use; reach it as ``client.router``. The
pipeline's routing layer (``plugbay.layers.routing``) runs it.
"""

from __future__ import annotations

from plugbay.routing.breaker import CircuitBreaker, CircuitInfo
from plugbay.routing.router import CircuitOpenError, NoTargetError, Router
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

