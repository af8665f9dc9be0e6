"""Old import path, kept working: the home of these names is ``plugbay.cost.stats``."""

from plugbay.cost.stats import (
    ProviderStats,
    Stats,
)

__all__ = [
    "ProviderStats",
    "Stats",
]
