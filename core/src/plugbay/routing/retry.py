"""Retry policy pieces: error classes, full-jitter backoff, server hints, the retry budget.

How an error steers the router (``classify``):

- ``RETRY``: ``exc.retryable`` (429, 5xx, 529, timeouts, connection faults, broken
  streams): the same target may be tried again after a backoff, or the next target
  tried at once.
- ``TARGET``: the target itself is unusable (401/403, exhausted quota, unknown model, a
  plugin that raised something foreign, an oversized or bomb-like response): never
  retried on that target; another provider instance (another key) may answer.
- ``CONTEXT``: ``ContextLengthError``: only a target with a larger context window
  may be tried, and only when the route allows it.
- ``FILTER``: ``ContentFilterError``: another target only when the route says so.
- ``FATAL``: the request itself is wrong (400/422): nothing else is tried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final

from plugbay import errors

__all__ = ["CONTEXT", "FATAL", "FILTER", "RETRY", "TARGET", "RetryBudget", "RetryPolicy", "backoff",
           "classify", "delay_for"]

# Defaults of the [routing] table (``routes.RoutingSettings`` takes them from here).
RETRIES: Final = 2  # a direct call's retries, as the official SDKs
BACKOFF_BASE: Final = 0.25
BACKOFF_MAX: Final = 8.0
RETRY_AFTER_CAP: Final = 20.0

RETRY: Final = 0
TARGET: Final = 1
CONTEXT: Final = 2
FILTER: Final = 3
FATAL: Final = 4

_TARGET_ERRORS = (errors.AuthenticationError, errors.PermissionDeniedError,
                  errors.QuotaExceededError, errors.ModelNotFoundError,
                  errors.PluginCallError, errors.ResponseTooLargeError)


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


class RetryPolicy:
    """What a direct call's retries need, without the route models (no pydantic)."""

    __slots__ = ("backoff_base", "backoff_max", "retries", "retry_after_cap")

    def __init__(self, retries: int = RETRIES, backoff_base: float = BACKOFF_BASE,
                 backoff_max: float = BACKOFF_MAX,
                 retry_after_cap: float = RETRY_AFTER_CAP) -> None:
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap

    @classmethod
    def of(cls, settings: Any) -> RetryPolicy:
        """From validated ``RoutingSettings``."""
        return cls(settings.retries, settings.backoff_base, settings.backoff_max,
                   settings.retry_after_cap)


def counts_against_target(kind: int) -> bool:
    """Whether an outcome says something about the target's health (for its breaker)."""
    return kind in (RETRY, TARGET)


def backoff(retry: int, base: float, cap: float, rand: random.Random | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**retry)] (retry counts from 0)."""
    ceiling = min(cap, base * (2.0 ** min(retry, 30)))
    return (rand or random).random() * ceiling


def delay_for(exc: errors.APIError, retry: int, base: float, cap: float,
              hint_cap: float) -> float:
    """The wait before trying the same target again: the server's ``retry_after`` when
    it gave one (up to ``hint_cap``), else full-jitter backoff."""
    hint = exc.retry_after
    if hint is not None and hint >= 0:
        return min(hint, hint_cap)
    return backoff(retry, base, cap)


class RetryBudget:
    """Keeps retries to a share of calls, so a failing upstream is not hammered by a retry
    storm: within each ``window`` seconds, retries (every attempt after a call's first,
    fallbacks included) may number at most ``minimum + ratio * calls``."""

    __slots__ = ("calls", "clock", "minimum", "ratio", "retries", "started", "window")

    def __init__(self, ratio: float = 0.2, minimum: float = 10.0, window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ratio = ratio
        self.minimum = minimum
        self.window = window
        self.clock = clock
        self.calls = 0
        self.retries = 0
        self.started = clock()

    def _roll(self) -> None:
        now = self.clock()
        if now - self.started >= self.window:
            self.started, self.calls, self.retries = now, 0, 0

    def deposit(self) -> None:
        """A call started. (Only ``withdraw`` rolls the window: this stays one addition.)"""
        self.calls += 1

    def withdraw(self) -> bool:
        """May one more retry go out? Counts it when it may."""
        self._roll()
        if self.retries < self.minimum + self.ratio * self.calls:
            self.retries += 1
            return True
        return False
