"""The route trace every routed ``Completion`` carries in ``Completion.trace``.

Plain slotted objects, not pydantic models: one is built per call and one
``Attempt`` per attempt, so they must cost next to nothing on the hot path.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Attempt", "RouteTrace"]


class Attempt:
    """One attempt: which target, how it ended, how long it took, what failed."""

    __slots__ = ("error", "latency", "outcome", "status", "target", "waited")

    def __init__(self, target: str, outcome: str, latency: float = 0.0,
                 error: str | None = None, status: int | None = None,
                 waited: float = 0.0) -> None:
        self.target = target
        self.outcome = outcome  # "ok", "error", "skipped" (circuit open), "cancelled"
        self.latency = latency
        self.error = error  # the plugbay error class name
        self.status = status
        self.waited = waited  # the pause after this attempt, before the next one

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self) -> str:
        err = f", error={self.error}" if self.error else ""
        return f"Attempt({self.target}, {self.outcome}, {self.latency * 1000:.1f} ms{err})"


class RouteTrace:
    """The strategy's decision and reason, then every attempt in order."""

    __slots__ = ("arm", "attempts", "decision", "elapsed", "reason", "route", "strategy")

    def __init__(self, route: str, strategy: str) -> None:
        self.route = route
        self.strategy = strategy
        self.decision: list[str] = []  # target keys in the order the strategy chose
        self.reason = ""
        self.arm: str | None = None  # A/B split: the arm the request key hashed to
        self.attempts: list[Attempt] = []
        self.elapsed = 0.0

    @property
    def target(self) -> str | None:
        """The target that answered, if any."""
        last = self.attempts[-1] if self.attempts else None
        return last.target if last is not None and last.outcome == "ok" else None

    def tried(self) -> list[Attempt]:
        """Attempts that actually called a provider (skips left out)."""
        return [a for a in self.attempts if a.outcome != "skipped"]

    def to_dict(self) -> dict[str, Any]:
        return {"route": self.route, "strategy": self.strategy, "decision": list(self.decision),
                "reason": self.reason, "arm": self.arm, "elapsed": self.elapsed,
                "attempts": [a.to_dict() for a in self.attempts]}

    def __repr__(self) -> str:
        return (f"RouteTrace({self.route!r}, strategy={self.strategy!r}, reason={self.reason!r}, "
                f"attempts={self.attempts!r})")
