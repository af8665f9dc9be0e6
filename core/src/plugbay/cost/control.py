"""``CostControl``: the ledger, stats, budgets, rate limits and shared state of one
client, built from its config on the first call."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.cost.stats import Stats

if TYPE_CHECKING:
    from plugbay.cost.budgets import BudgetManager
    from plugbay.cost.ledger import Ledger
    from plugbay.cost.ratelimit import RateLimiter
    from plugbay.cost.shared import SharedState

__all__ = ["CostControl", "state_settings"]

log = logging.getLogger("plugbay.budgets")


class CostControl:
    """``sections``: the config's top-level tables (``ledger``, ``budgets``,
    ``rate_limits``, ``state``); ``env`` for the ledger's default path."""

    def __init__(self, sections: Mapping[str, Any], env: Mapping[str, str]) -> None:
        from plugbay.cost.budgets import BudgetManager, parse_budgets
        from plugbay.cost.ledger import Ledger, LedgerSettings
        from plugbay.cost.ratelimit import parse_rate_limits

        settings = LedgerSettings.from_config(sections.get("ledger"), env)
        self.ledger: Ledger | None = (
            Ledger(settings.url, record_text=settings.record_text, batch=settings.batch)
            if settings.url else None)
        self.record_text = settings.record_text
        self.stats = Stats()
        self.state = state_settings(sections.get("state"))
        self.shared: SharedState | None = None
        self.budgets: BudgetManager | None = None
        self.limiter: RateLimiter | None = None
        budgets, bsettings = parse_budgets(sections.get("budgets"))
        specs = parse_rate_limits(sections.get("rate_limits"))
        if self.state.get("backend") == "redis":
            from plugbay.cost.shared import SharedState

            st = self.state
            self.shared = SharedState(st["url"], prefix=st["prefix"], timeout=st["timeout"],
                                      backoff=st["backoff"], hold_ttl=st["hold_ttl"])
        if budgets:
            bstore = self.shared.budget_store() if self.shared else None
            self.budgets = BudgetManager(budgets, bsettings, bstore, self.ledger)
            if self.shared is None:
                log.warning("budgets %s are enforced by this process alone: other processes "
                            "spend against their own copy. To share them, set [state] "
                            "backend = \"redis\" (docs/cost.md)",
                            ", ".join(b.name for b in budgets))
        if specs:
            from plugbay.cost.ratelimit import RateLimiter

            lstore = self.shared.limit_store() if self.shared else None
            self.limiter = RateLimiter(specs, lstore)

    @property
    def admits(self) -> bool:
        """Whether calls must be admitted (a budget or a rate limit is configured)."""
        return self.budgets is not None or self.limiter is not None

    def flush(self, timeout: float = 30.0) -> bool:
        return self.ledger.flush(timeout) if self.ledger is not None else True

    async def aclose(self) -> None:
        if self.ledger is not None:
            self.ledger.flush()
        if self.shared is not None:
            await self.shared.aclose()  # this loop's connections; idempotent


def state_settings(section: Any) -> dict[str, Any]:
    """The ``[state]`` table: ``backend`` (memory or redis), ``url``, ``prefix``, and for
    Redis the seconds ``timeout`` (per round trip), ``backoff`` and ``hold_ttl``."""
    table = dict(section) if isinstance(section, Mapping) else {}
    unknown = set(table) - {"backend", "url", "prefix", *_STATE_SECONDS}
    if unknown:
        raise errors.ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key="state")
    backend = table.get("backend", "memory")
    if backend not in ("memory", "redis"):
        raise errors.ConfigError("must be 'memory' or 'redis'", key="state.backend")
    if backend == "redis" and not table.get("url"):
        table["url"] = "redis://127.0.0.1:6379/0"
    table.setdefault("prefix", "plugbay")
    for key, default in _STATE_SECONDS.items():
        value = table.setdefault(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise errors.ConfigError(f"must be a number of seconds above 0 (got {value!r})",
                                     key=f"state.{key}")
    table["backend"] = backend
    return table


_STATE_SECONDS = {"timeout": 1.0, "backoff": 10.0, "hold_ttl": 600.0}
