"""The interface a ledger backend implements (SQLite and PostgreSQL ship)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from plugbay.cost.ledger.records import UsageRecord

__all__ = ["Backend"]


class Backend(Protocol):
    """Writes come from the one writer thread; reads may come from any thread."""

    url: str

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Insert a batch in one transaction."""

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert a batch of ``UsageRecord.row()`` tuples in one transaction (the
        writer thread's path: each row was built once, on the call path)."""

    def fetch(self, since: float | None = None, until: float | None = None,
              ) -> list[UsageRecord]:
        """Rows with ``since <= ts < until`` (Unix times; ``None``: unbounded), oldest first."""
        ...

    def count(self) -> int:
        ...

    def spent(self, since: float, kind: str, match: str | None) -> float:
        """Total known cost since ``since`` within a budget scope (``kind``: global,
        provider, model, route, tag; ``match`` as in the budget's scope)."""
        ...

    def close(self) -> None:
        ...
