"""The route trace every routed ``Completion`` carries in ``Completion.trace``.

Slotted dataclasses, not pydantic models: one is built per call and one ``Attempt``
per attempt, so they must cost next to nothing on the hot path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Attempt", "RouteTrace"]


# Dataclasses (not plain classes) so that pydantic serialises them inside
# ``Completion.model_dump_json()``: the ``trace`` field is typed ``Any``.
@dataclass(slots=True, repr=False)
class Attempt:
    """One attempt: which target, how it ended, how long it took, what failed."""

    target: str
    outcome: str  # "ok", "error", "skipped" (circuit open), "cancelled"
    latency: float = 0.0
    error: str | None = None  # the plugbay error class name
    status: int | None = None
    waited: float = 0.0  # the pause after this attempt, before the next one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        err = f", error={self.error}" if self.error else ""
        return f"Attempt({self.target}, {self.outcome}, {self.latency * 1000:.1f} ms{err})"


@dataclass(slots=True, repr=False)
class RouteTrace:
    """The strategy's decision and reason, then every attempt in order."""

    route: str
    strategy: str
    decision: list[str] = field(default_factory=list)  # target keys in the chosen order
    reason: str = ""
    arm: str | None = None  # A/B split: the arm the request key hashed to
    attempts: list[Attempt] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def target(self) -> str | None:
        """The target that answered, if any."""
        last = self.attempts[-1] if self.attempts else None
        return last.target if last is not None and last.outcome == "ok" else None

    def tried(self) -> list[Attempt]:
        """Attempts that actually called a provider (skips left out)."""
        return [a for a in self.attempts if a.outcome != "skipped"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        return (f"RouteTrace({self.route!r}, strategy={self.strategy!r}, reason={self.reason!r}, "
                f"attempts={self.attempts!r})")
