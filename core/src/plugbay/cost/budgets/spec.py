"""Budget definitions from ``[budgets.<name>]`` and the periods they count over (UTC)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from plugbay.errors import ConfigError

__all__ = ["Budget", "parse_budgets", "period_bounds"]

Period = Literal["daily", "monthly"]
_KEYS = {"scope", "period", "limit", "mode", "thresholds", "on_exceed", "downgrade_to",
         "currency"}


def period_bounds(period: str, now: float) -> tuple[str, float, float]:
    """The period's id (``2026-11-22`` / ``2026-11``) and its [start, end) Unix times."""
    t = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    if period == "daily":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), start.timestamp(), (start + dt.timedelta(days=1)
                                                                 ).timestamp()
    start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return start.strftime("%Y-%m"), start.timestamp(), nxt.timestamp()


@dataclass(frozen=True)
class Budget:
    """One budget. ``scope``: ``global``, ``provider:<instance>``, ``model:<provider/model>``,
    ``route:<name>`` or ``tag:<key>=<value>``."""

    name: str
    scope: str
    kind: str  # global | provider | model | route | tag
    match: str | None
    period: Period
    limit: float
    hard: bool
    thresholds: tuple[float, ...]
    on_exceed: Literal["raise", "downgrade"]
    downgrade_to: str | None
    currency: str = "USD"

    def applies(self, provider: str | None, model: str | None, route: str | None,
                tags: Mapping[str, str] | None) -> bool:
        kind = self.kind
        if kind == "global":
            return True
        if kind == "provider":
            return provider == self.match
        if kind == "model":
            return provider is not None and f"{provider}/{model}" == self.match
        if kind == "route":
            return route == self.match
        if not tags or self.match is None:
            return False
        key, _, value = self.match.partition("=")
        return tags.get(key) == value

    def key(self, now: float) -> str:
        """The counter name for the current period."""
        return f"{self.name}:{period_bounds(self.period, now)[0]}"


def _scope(name: str, scope: Any) -> tuple[str, str | None]:
    where = f"budgets.{name}.scope"
    if not isinstance(scope, str) or not scope:
        raise ConfigError("must be a string like 'global' or 'provider:openai'", key=where)
    if scope == "global":
        return "global", None
    kind, sep, match = scope.partition(":")
    if not sep or not match or kind not in ("provider", "model", "route", "tag"):
        raise ConfigError(f"{scope!r}: use global, provider:<name>, model:<provider/model>, "
                          "route:<name> or tag:<key>=<value>", key=where)
    if kind == "model" and "/" not in match:
        raise ConfigError(f"{scope!r}: a model scope is 'model:provider/model'", key=where)
    if kind == "tag" and "=" not in match:
        raise ConfigError(f"{scope!r}: a tag scope is 'tag:key=value'", key=where)
    return kind, match


def parse_budgets(section: Any) -> tuple[list[Budget], dict[str, Any]]:
    """The budgets of ``[budgets]`` (sub-tables) and its plain settings (other keys)."""
    if section is None:
        return [], {}
    if not isinstance(section, Mapping):
        raise ConfigError("must be a table of budgets", key="budgets")
    budgets, settings = [], {}
    for name, table in section.items():
        if not isinstance(table, Mapping):
            settings[name] = table
            continue
        where = f"budgets.{name}"
        unknown = set(table) - _KEYS
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key=where)
        kind, match = _scope(name, table.get("scope", "global"))
        period = table.get("period", "daily")
        if period not in ("daily", "monthly"):
            raise ConfigError("must be 'daily' or 'monthly'", key=f"{where}.period")
        limit = table.get("limit")
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit < 0:
            raise ConfigError("needs a number >= 0 (in the budget's currency)",
                              key=f"{where}.limit")
        mode = table.get("mode", "hard")
        if mode not in ("hard", "soft"):
            raise ConfigError("must be 'hard' or 'soft'", key=f"{where}.mode")
        thresholds = table.get("thresholds", [0.5, 0.8, 1.0])
        if not isinstance(thresholds, list) or not all(
                isinstance(x, (int, float)) and x > 0 for x in thresholds):
            raise ConfigError("must be a list of fractions like [0.5, 0.8, 1.0]",
                              key=f"{where}.thresholds")
        on_exceed = table.get("on_exceed", "downgrade" if table.get("downgrade_to") else "raise")
        if on_exceed not in ("raise", "downgrade"):
            raise ConfigError("must be 'raise' or 'downgrade'", key=f"{where}.on_exceed")
        downgrade_to = table.get("downgrade_to")
        if on_exceed == "downgrade" and not downgrade_to:
            raise ConfigError("on_exceed = 'downgrade' needs downgrade_to (a route or "
                              "provider/model)", key=f"{where}.downgrade_to")
        budgets.append(Budget(str(name), table.get("scope", "global"), kind, match, period,
                              float(limit), mode == "hard",
                              tuple(sorted(float(x) for x in thresholds)), on_exceed,
                              downgrade_to, table.get("currency", "USD")))
    return budgets, settings
