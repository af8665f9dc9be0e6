"""Typed models of a provider batch job and of one of its per-item results.

What the optional batch hooks (``batch_submit``, ``batch_poll``, ``batch_results``,
``batch_cancel``) take and return; provider-neutral, like ``plugbay.types``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plugbay.types import Completion, Request, _Model

__all__ = ["TERMINAL", "BatchCounts", "BatchItem", "BatchItemError", "BatchJob",
           "BatchResult", "JobState"]

# Normalised job states (OpenAI's names; every provider maps onto them).
JobState = Literal["validating", "in_progress", "finalizing", "completed", "failed",
                   "expired", "cancelling", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchItem(_Model):
    """One request of a job, tied to the caller's ``custom_id``."""

    custom_id: str
    request: Request  # ``request.model`` is the id without the provider prefix


class BatchCounts(_Model):
    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchJob(_Model):
    """A job as the provider last reported it. ``id`` is the provider's own id."""

    id: str
    provider: str
    state: JobState
    counts: BatchCounts = Field(default_factory=BatchCounts)
    created_at: float | None = None  # Unix time
    error: str | None = None  # why a job failed as a whole

    @property
    def job_id(self) -> str:
        """``provider:native_id``: what ``plugbay batch status|fetch|cancel`` take."""
        return f"{self.provider}:{self.id}"

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    def __str__(self) -> str:
        c = self.counts
        line = (f"{self.job_id} {self.state}: {c.completed}/{c.total} completed, "
                f"{c.failed} failed")
        return f"{line} ({self.error})" if self.error else line


class BatchItemError(_Model):
    code: str
    message: str


class BatchResult(_Model):
    """One item's outcome: a ``completion`` or an ``error``, never both."""

    custom_id: str
    completion: Completion | None = None
    error: BatchItemError | None = None
    status_code: int = 200
    request_id: str | None = None
