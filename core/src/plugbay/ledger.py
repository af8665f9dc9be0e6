"""Old import path, kept working: the home of these names is ``plugbay.cost.ledger``."""

from plugbay.cost.ledger import (
    COLUMNS,
    Backend,
    Ledger,
    LedgerSettings,
    UsageRecord,
    check_url,
    close_all,
    default_path,
    open_backend,
)

__all__ = [
    "COLUMNS",
    "Backend",
    "Ledger",
    "LedgerSettings",
    "UsageRecord",
    "check_url",
    "close_all",
    "default_path",
    "open_backend",
]
