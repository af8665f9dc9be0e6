"""What a batch run gives and takes besides its requests: ``ItemResult`` (one request's
outcome), ``BatchStats`` (the run so far, and its one-line summary) and ``Control`` (ends
a run from outside). ``plugbay.batch.runner`` re-exports them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plugbay.batch.results import error_line, success_line
from plugbay.cost.ledger.records import cost_total

if TYPE_CHECKING:
    from plugbay.types import Completion

__all__ = ["BatchStats", "Control", "ItemResult"]


class ItemResult:
    """One request's outcome: ``completion`` or ``error``, never both."""

    __slots__ = ("attempts", "cached", "completion", "cost", "custom_id", "error", "model")

    def __init__(self, custom_id: str, model: str | None, completion: Completion | None = None,
                 error: BaseException | None = None, attempts: int = 1) -> None:
        self.custom_id = custom_id
        self.model = model
        self.completion = completion
        self.error = error
        self.attempts = attempts
        self.cached = completion is not None and completion.extra.get("cache") == "hit"
        self.cost: float | None = 0.0
        if completion is not None and not self.cached:
            usage, price = completion.usage, completion.price
            self.cost = None if usage is None or price is None else cost_total(usage, price)

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> dict[str, Any]:
        """This result as one line of OpenAI's batch output format (plus ``plugbay``)."""
        if self.completion is not None:
            return success_line(self.custom_id, self.completion, self.cost, self.cached)
        assert self.error is not None
        return error_line(self.custom_id, self.error, self.model)

    def __repr__(self) -> str:
        what = "ok" if self.ok else type(self.error).__name__
        return f"ItemResult({self.custom_id!r}, {what})"


class BatchStats:
    """What a run did so far; ``str()`` is the one-line summary."""

    def __init__(self, total: int | None = None) -> None:
        self.total = total
        self.done = 0  # results yielded (ok or failed)
        self.failed = 0
        self.skipped = 0  # already done (``skip``)
        self.bad = 0  # malformed input items
        self.rate_limited = 0  # 429s met (each retried, not failed)
        self.not_run = 0  # refused by a budget, or in flight at an abort
        self.cost = 0.0
        self.unpriced = 0  # results whose cost is unknown
        self.started = time.monotonic()
        self.ended: float | None = None
        self.stopped: str | None = None  # why the run ended early
        self.narrowest: int | None = None  # the window's lowest width

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def __str__(self) -> str:
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        money = f"${self.cost:.6f}" + (f" (+{self.unpriced} unpriced)" if self.unpriced else "")
        parts = [f"{self.done} done ({self.failed} failed)"]
        if self.skipped:
            parts.append(f"{self.skipped} already done, skipped")
        if self.bad:
            parts.append(f"{self.bad} malformed, skipped")
        if self.not_run:
            parts.append(f"{self.not_run} not run")
        if self.rate_limited:
            parts.append(f"{self.rate_limited} rate limits retried "
                         f"(window down to {self.narrowest})")
        line = f"{', '.join(parts)}; cost {money}; {rate:.1f} req/s over {self.elapsed:.1f} s"
        return f"{line}; stopped: {self.stopped}" if self.stopped else line


class Control:
    """Ends a run from outside (a signal handler, another task)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.aborted = False
        self._wake: Callable[[], None] = lambda: None

    def bind(self, wake: Callable[[], None]) -> None:
        """Called by ``run``: how to wake it when ``stop`` or ``abort`` is called."""
        self._wake = wake

    def stop(self, reason: str = "stopped") -> None:
        """No new starts; the calls in flight finish and are yielded."""
        self.reason = self.reason or reason
        self._wake()

    def abort(self) -> None:
        """Cancel the calls in flight too (they are not yielded: a rerun sends them)."""
        self.aborted = True
        self.stop("aborted")
