"""Circuit breaker states, backoff with full jitter, retry budget, error classes."""

from __future__ import annotations

import random

import pytest

from plugbay import errors
from plugbay.routing import retry
from plugbay.routing.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker

pytestmark = pytest.mark.timeout(20)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_at_threshold_within_window() -> None:
    clock = Clock()
    b = CircuitBreaker("a/m", threshold=3, window=10, cooldown=5, clock=clock)
    b.failure()
    b.failure()
    clock.now += 11  # the first two fall out of the window
    b.failure()
    b.failure()
    assert b.state == CLOSED and b.info().failures == 2
    b.failure()
    assert b.state == OPEN and b.opened == 1
    assert not b.available() and not b.acquire()
    assert b.info().retry_in == 5


def test_info_says_half_open_once_the_cooldown_is_over() -> None:
    """``client.circuits()`` shows the state a call would meet, not the stale one."""
    clock = Clock()
    b = CircuitBreaker("a/m", threshold=1, window=10, cooldown=5, clock=clock)
    b.failure()
    assert b.info().state == OPEN
    clock.now += 5
    info = b.info()
    assert (info.state, info.retry_in) == (HALF_OPEN, None)
    assert b.state == OPEN  # looking does not move it: the next call does


def test_half_open_lets_exactly_one_trial() -> None:
    clock = Clock()
    b = CircuitBreaker("a/m", threshold=1, window=10, cooldown=5, clock=clock)
    b.failure()
    clock.now += 5
    assert b.available()
    assert b.acquire() and b.state == HALF_OPEN
    assert not b.acquire() and not b.available()  # the one trial is taken
    b.failure()  # the trial failed: open again for another cooldown
    assert b.state == OPEN and b.opened == 2
    clock.now += 5
    assert b.acquire()
    b.release()  # cancelled: the trial slot frees up, still half-open
    assert b.state == HALF_OPEN and b.acquire()
    b.success()
    assert b.state == CLOSED and b.acquire() and b.acquire()
    assert [s for _, s in b.transitions] == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_probe_hooks() -> None:
    clock = Clock()
    b = CircuitBreaker("a/m", threshold=5, window=10, cooldown=60, clock=clock)
    b.trip()
    assert b.state == OPEN and not b.available()
    b.probe_ok()
    assert b.available()


def test_full_jitter_backoff_bounds() -> None:
    rand = random.Random(1)
    for attempt in range(8):
        ceiling = min(2.0, 0.1 * 2 ** attempt)
        values = [retry.backoff(attempt, 0.1, 2.0, rand) for _ in range(200)]
        assert all(0 <= v <= ceiling for v in values)
        assert max(values) > ceiling * 0.8  # spread over the whole range


def test_server_hint_wins_up_to_cap() -> None:
    exc = errors.RateLimitError("slow down", retry_after=1.5)
    assert retry.delay_for(exc, 0, 0.1, 2.0, 30) == 1.5
    exc = errors.RateLimitError("slow down", retry_after=120)
    assert retry.delay_for(exc, 0, 0.1, 2.0, 30) == 30
    assert retry.delay_for(errors.RateLimitError("x"), 0, 0.1, 2.0, 30) <= 0.1


def test_retry_budget() -> None:
    clock = Clock()
    budget = retry.RetryBudget(ratio=0.5, minimum=2, window=10, clock=clock)
    assert budget.withdraw() and budget.withdraw() and not budget.withdraw()
    budget.deposit()
    budget.deposit()
    assert budget.withdraw() and not budget.withdraw()
    for _ in range(1000):
        budget.deposit()
    assert sum(budget.withdraw() for _ in range(1000)) == 500
    clock.now += 10  # a new window starts from the floor again
    assert budget.withdraw() and budget.withdraw() and not budget.withdraw()


def test_classify() -> None:
    assert retry.classify(errors.RateLimitError("x")) == retry.RETRY
    assert retry.classify(errors.OverloadedError("x")) == retry.RETRY
    assert retry.classify(errors.ProviderError("x")) == retry.RETRY
    assert retry.classify(errors.ProviderError("x", retryable=False)) == retry.FATAL
    assert retry.classify(errors.AuthenticationError("x")) == retry.TARGET
    assert retry.classify(errors.QuotaExceededError("x")) == retry.TARGET
    assert retry.classify(errors.InvalidRequestError("x")) == retry.FATAL
    assert retry.classify(errors.ContextLengthError("x")) == retry.CONTEXT
    assert retry.classify(errors.ContentFilterError("x")) == retry.FILTER
