"""Old import path, kept working: the home of these names is ``plugbay.cost.shared``."""

from plugbay.cost.shared import (
    SharedState,
)

__all__ = [
    "SharedState",
]
