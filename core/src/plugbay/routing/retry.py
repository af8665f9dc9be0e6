"""Retry policy pieces: error classes, full-jitter backoff, server hints, the retry budget.

How an error steers the router (``classify``):

- ``RETRY``: ``exc.retryable`` (429, 5xx, 529, timeouts, connection faults, broken
  streams): the same target may be tried again after a backoff, or the next target
  tried at once.
- ``TARGET``: the target itself is unusable (401/403, exhausted quota, unknown model):
  never retried on that target; another provider instance (another key) may answer.
- ``CONTEXT``: ``ContextLengthError``: only a target with a larger context window
  may be tried, and only when the route allows it.
- ``FILTER``: ``ContentFilterError``: another target only when the route says so.
- ``FATAL``: the request itself is wrong (400/422): nothing else is tried.
"""

from __future__ import annotations

import random
from typing import Final

from plugbay import errors

__all__ = ["CONTEXT", "FATAL", "FILTER", "RETRY", "TARGET", "RetryBudget", "backoff", "classify",
           "delay_for"]

RETRY: Final = 0
TARGET: Final = 1
CONTEXT: Final = 2
FILTER: Final = 3
FATAL: Final = 4

_TARGET_ERRORS = (errors.AuthenticationError, errors.PermissionDeniedError,
                  errors.QuotaExceededError, errors.ModelNotFoundError)


def classify(exc: errors.APIError) -> int:
    if isinstance(exc, errors.ContextLengthError):
        return CONTEXT
    if isinstance(exc, errors.ContentFilterError):
        return FILTER
    if isinstance(exc, _TARGET_ERRORS):
        return TARGET
    if exc.retryable:
        return RETRY
    return FATAL


def counts_against_target(kind: int) -> bool:
    """Whether an outcome says something about the target's health (for its breaker)."""
    return kind == RETRY or kind == TARGET


def backoff(retry: int, base: float, cap: float, rand: random.Random | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**retry)] (retry counts from 0)."""
    ceiling = min(cap, base * (2.0 ** min(retry, 30)))
    return (rand or random).random() * ceiling  # type: ignore[union-attr]


def delay_for(exc: errors.APIError, retry: int, base: float, cap: float,
              hint_cap: float) -> float:
    """The wait before trying the same target again: the server's ``retry_after`` when
    it gave one (up to ``hint_cap``), else full-jitter backoff."""
    hint = exc.retry_after
    if hint is not None and hint >= 0:
        return min(hint, hint_cap)
    return backoff(retry, base, cap)


class RetryBudget:
    """A token bucket that keeps retries to a share of calls (so a failing upstream is not
    hammered by a retry storm). Every call deposits ``ratio`` tokens; every retry or
    fallback attempt withdraws one. ``minimum`` tokens are always allowed, as a floor
    for quiet periods."""

    __slots__ = ("balance", "cap", "ratio")

    def __init__(self, ratio: float = 0.2, minimum: float = 10.0) -> None:
        self.ratio = ratio
        self.cap = max(minimum, 1.0) if ratio == 0 else max(minimum, 100.0 * ratio)
        self.balance = minimum

    def deposit(self) -> None:
        balance = self.balance + self.ratio
        self.balance = balance if balance < self.cap else self.cap

    def withdraw(self) -> bool:
        if self.balance >= 1.0:
            self.balance -= 1.0
            return True
        return False
