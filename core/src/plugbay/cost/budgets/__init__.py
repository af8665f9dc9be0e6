"""Budgets: daily or monthly spend limits per scope (global, provider instance, model,
route, tag), soft (log + callbacks at thresholds) or hard (raise ``BudgetExceededError``
or downgrade to a cheaper route/model).

Every call first *reserves* its estimated cost (prompt size and ``max_tokens`` times the
price) on each budget it falls under, atomically against the hard limits, and *settles*
the actual cost when it ends. Concurrent calls therefore cannot overspend a hard budget by
more than one call's estimate (and not at all while the estimate is an upper bound).

Config::

    [budgets]
    estimate_output_tokens = 1024      # output estimate when a call sets no max_tokens

    [budgets.daily]
    scope = "global"                   # provider:<name> | model:<p/m> | route:<r> | tag:<k>=<v>
    period = "daily"                   # or "monthly" (UTC)
    limit = 5.0                        # USD
    mode = "hard"                      # or "soft"
    thresholds = [0.5, 0.8, 1.0]       # log + callbacks when spend crosses these fractions
    downgrade_to = "cheap"             # instead of raising: call this route or model
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.cost.budgets.spec import Budget, parse_budgets, period_bounds
from plugbay.cost.budgets.store import BudgetStore, MemoryStore

if TYPE_CHECKING:
    from plugbay.cost.ledger import Ledger
    from plugbay.types import Price, Request

__all__ = ["Budget", "BudgetEvent", "BudgetManager", "BudgetStatus", "MemoryStore",
           "Reservation", "estimate_cost", "estimate_tokens", "parse_budgets", "period_bounds"]

log = logging.getLogger("plugbay.budgets")


@dataclass(frozen=True)
class BudgetEvent:
    """A soft threshold crossed (``threshold`` < 1), a budget used up (``>= 1``), or a
    hard budget refusing a call (``refused``)."""

    budget: Budget
    period: str
    threshold: float
    spent: float
    limit: float
    refused: bool = False


@dataclass(frozen=True)
class BudgetStatus:
    name: str
    scope: str
    period: str
    mode: str
    spent: float
    reserved: float
    limit: float
    currency: str

    @property
    def fraction(self) -> float:
        return self.spent / self.limit if self.limit else (1.0 if self.spent else 0.0)


class Reservation:
    """``hold``: this reservation's id, so that a shared store can expire it on its own
    when the process that made it dies before it settles."""

    __slots__ = ("amount", "budgets", "hold", "keys")

    def __init__(self, budgets: list[Budget], keys: list[str], amount: float,
                 hold: str = "") -> None:
        self.budgets = budgets
        self.keys = keys
        self.amount = amount
        self.hold = hold


def estimate_tokens(request: Request) -> int:
    """A cheap upper-leaning guess of the prompt's tokens: ~4 characters per token plus
    a few per message, tools' schemas included."""
    chars = 0
    for m in request.messages:
        c = m.content
        if isinstance(c, str):
            chars += len(c)
        elif c:
            for part in c:
                chars += len(getattr(part, "text", "")) or 3000  # an image: ~1k tokens
        chars += 16
    if request.tools:
        for t in request.tools:
            chars += len(t.name) + len(t.description or "") + len(str(t.parameters))
    return chars // 3 + 8


def estimate_cost(request: Request, price: Price | None, output_tokens: int,
                  prompt_tokens: int | None = None) -> float:
    """The estimated cost of ``request``: the prompt (``prompt_tokens`` when counted, else
    the estimate) at the input price plus ``max_tokens`` (else ``output_tokens``) at the
    dearer of the output/reasoning price."""
    if price is None or price.input is None or price.output is None:
        return 0.0
    out = request.max_tokens if request.max_tokens is not None else output_tokens
    out_rate = max(price.output, price.reasoning or 0.0)
    prompt = estimate_tokens(request) if prompt_tokens is None else prompt_tokens
    return (prompt * price.input + out * out_rate) / 1_000_000


class BudgetManager:
    """The budgets of one ``Client`` (``client.budgets``)."""

    def __init__(self, budgets: Sequence[Budget], settings: Mapping[str, Any],
                 store: BudgetStore | None = None, ledger: Ledger | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.budgets = list(budgets)
        self.output_tokens = int(settings.get("estimate_output_tokens", 1024))
        self.store: BudgetStore = store or MemoryStore()
        self.ledger = ledger
        self.clock = clock
        self._callbacks: list[Callable[[BudgetEvent], Any]] = []
        self._notified: set[tuple[str, str, float]] = set()
        self._warned_unpriced: set[str] = set()
        self._holds = itertools.count(1)  # reservation ids: unique per process and manager
        self._holds_prefix = os.urandom(6).hex() + "-"

    def on_threshold(self, callback: Callable[[BudgetEvent], Any]) -> None:
        """Call ``callback(event)`` when a threshold is crossed or a call is refused."""
        self._callbacks.append(callback)

    def matching(self, provider: str | None, model: str | None, route: str | None,
                 tags: Mapping[str, str] | None) -> list[Budget]:
        return [b for b in self.budgets if b.applies(provider, model, route, tags)]

    # ------------------------------------------------------------ reserve / settle

    async def _seed(self, budget: Budget, key: str, now: float) -> None:
        """Start a period's counter from what the ledger already holds for it."""
        if self.store.has(key):
            return
        spent = 0.0
        _, start, end = period_bounds(budget.period, now)
        if self.ledger is not None:
            try:
                spent = self.ledger.spent(start, budget.kind, budget.match)
            except Exception as exc:  # an unreadable ledger must not block calls
                log.warning("budget %s: could not read the ledger: %s", budget.name, exc)
        await self.store.seed(key, spent, end - now + 86400)

    async def reserve(self, provider: str | None, model: str | None, route: str | None,
                      tags: Mapping[str, str] | None, estimate: float,
                      ) -> Reservation | None:
        """Reserve ``estimate`` on every budget the call falls under, or raise
        ``BudgetExceededError`` for the first hard one it would overspend."""
        budgets = self.matching(provider, model, route, tags)
        if not budgets:
            return None
        now = self.clock()
        keys, entries = [], []
        for b in budgets:
            key = b.key(now)
            await self._seed(b, key, now)
            keys.append(key)
            _, _, end = period_bounds(b.period, now)
            entries.append((key, b.limit if b.hard else None, end - now + 86400))
        hold = f"{self._holds_prefix}{next(self._holds)}"
        failed = await self.store.reserve(entries, estimate, hold)
        if failed is not None:
            b = budgets[failed]
            spent, held = self.store.peek(keys[failed])
            period = keys[failed].rpartition(":")[2]
            self._emit(BudgetEvent(b, period, 1.0, spent, b.limit, refused=True))
            raise errors.BudgetExceededError(
                f"budget {b.name!r} ({b.scope}, {b.period}) would be exceeded: spent "
                f"{spent:.6g} + reserved {held:.6g} + this call's estimate {estimate:.6g} > "
                f"limit {b.limit:g} {b.currency}",
                budget=b.name, spent=spent, limit=b.limit, period=period, provider=provider,
                downgrade_to=b.downgrade_to if b.on_exceed == "downgrade" else None)
        return Reservation(budgets, keys, estimate, hold)

    async def settle(self, reservation: Reservation | None, actual: float | None,
                     what: str = "") -> None:
        """Replace the reservation with the actual cost (``None``: unknown, counted 0)."""
        if reservation is None:
            return
        if actual is None:
            if what not in self._warned_unpriced:
                self._warned_unpriced.add(what)
                log.warning("budgets: cost of %s unknown (no price or usage); counted as 0",
                            what)
            actual = 0.0
        totals = await self.store.settle(reservation.keys, reservation.amount, actual,
                                         reservation.hold)
        for b, key, spent in zip(reservation.budgets, reservation.keys, totals, strict=True):
            self._check(b, key, spent)

    async def settle_call(self, reservation: Reservation | None, provider: str | None,
                          model: str | None, route: str | None,
                          tags: Mapping[str, str] | None, actual: float | None) -> None:
        """Settle a call: its reservation, and the budgets it falls under that could not
        be reserved up front (a routed stream learns its provider and model late)."""
        await self.settle(reservation, actual, f"{provider}/{model}")
        held = set(reservation.keys) if reservation is not None else set()
        now = self.clock()
        late = [b for b in self.matching(provider, model, route, tags)
                if b.key(now) not in held]
        if late and actual:
            for b in late:
                await self._seed(b, b.key(now), now)
            await self.settle(Reservation(late, [b.key(now) for b in late], 0.0), actual)

    def _check(self, b: Budget, key: str, spent: float) -> None:
        if not b.limit:
            return
        fraction = spent / b.limit
        period = key.rpartition(":")[2]
        for t in b.thresholds:
            if fraction >= t and (b.name, period, t) not in self._notified:
                self._notified.add((b.name, period, t))
                self._emit(BudgetEvent(b, period, t, spent, b.limit))

    def _emit(self, event: BudgetEvent) -> None:
        b = event.budget
        if event.refused:
            first = (b.name, event.period, -1.0) not in self._notified
            self._notified.add((b.name, event.period, -1.0))
            log.log(logging.WARNING if first else logging.DEBUG,
                    "budget %s (%s): refusing calls at %.6g of %g %s", b.name, b.scope,
                    event.spent, event.limit, b.currency)
        else:
            log.warning("budget %s (%s, %s %s): %.0f%% used (%.6g of %g %s)", b.name, b.scope,
                        b.period, event.period, event.threshold * 100, event.spent,
                        event.limit, b.currency)
        for cb in self._callbacks:
            try:
                cb(event)
            except Exception:  # a user callback must not break the call
                log.exception("budget callback failed")

    # ------------------------------------------------------------ routing / reports

    def blocking(self, provider: str, model: str, route: str | None,
                 tags: Mapping[str, str] | None, estimate: float) -> Budget | None:
        """The first hard budget *of this target* (provider or model scope) the call would
        overspend, as this process last saw the counters: the router's filter. Route, tag
        and global budgets are the same for every target; the reservation checks them."""
        now = self.clock()
        for b in self.matching(provider, model, route, tags):
            if b.hard and b.kind in ("provider", "model"):
                spent, held = self.store.peek(b.key(now))
                if spent + held + estimate > b.limit + 1e-12:
                    return b
        return None

    async def astatus(self) -> list[BudgetStatus]:
        now = self.clock()
        out = []
        for b in self.budgets:
            key = b.key(now)
            await self._seed(b, key, now)
            spent, held = await self.store.read(key)
            out.append(BudgetStatus(b.name, b.scope, key.rpartition(":")[2],
                                    "hard" if b.hard else "soft", spent, held, b.limit,
                                    b.currency))
        return out
