"""Old import path, kept working: the home of these names is ``plugbay.cost.budgets``."""

from plugbay.cost.budgets import (
    Budget,
    BudgetEvent,
    BudgetManager,
    BudgetStatus,
    MemoryStore,
    Reservation,
    estimate_cost,
    estimate_tokens,
    parse_budgets,
    period_bounds,
)

__all__ = [
    "Budget",
    "BudgetEvent",
    "BudgetManager",
    "BudgetStatus",
    "MemoryStore",
    "Reservation",
    "estimate_cost",
    "estimate_tokens",
    "parse_budgets",
    "period_bounds",
]
