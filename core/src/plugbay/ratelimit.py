"""Old import path, kept working: the home of these names is ``plugbay.cost.ratelimit``."""

from plugbay.cost.ratelimit import (
    LimitSpec,
    MemoryLimitStore,
    Permit,
    RateLimiter,
    parse_rate_limits,
    server_block,
)

__all__ = [
    "LimitSpec",
    "MemoryLimitStore",
    "Permit",
    "RateLimiter",
    "parse_rate_limits",
    "server_block",
]
