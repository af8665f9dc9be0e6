"""Circuit breakers: one per provider instance + model (``"openai-eu/gpt-4o"``).

closed: calls pass; failures are counted over a sliding ``window``. At ``threshold``
failures the circuit opens. open: calls are refused until ``cooldown`` has passed,
then the circuit is half-open. half-open: exactly one trial call is let through;
its success closes the circuit, its failure opens it again for another cooldown.

Only the router's event loop thread touches a breaker, so no lock is needed; the
clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "CircuitInfo"]

CLOSED: Literal["closed"] = "closed"
OPEN: Literal["open"] = "open"
HALF_OPEN: Literal["half_open"] = "half_open"
State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class CircuitInfo:
    """A snapshot of one breaker, as ``Client.circuits()`` returns it."""

    key: str
    state: State
    failures: int  # failures inside the current window
    opened: int  # how many times it has opened
    retry_in: float | None  # seconds until an open circuit turns half-open


class CircuitBreaker:
    __slots__ = ("_failures", "_trial", "clock", "cooldown", "key", "opened", "opened_at",
                 "state", "threshold", "transitions", "window")

    def __init__(self, key: str, *, threshold: int = 5, window: float = 30.0,
                 cooldown: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.key = key
        self.threshold = threshold
        self.window = window
        self.cooldown = cooldown
        self.clock = clock
        self.state: State = CLOSED
        self.opened = 0
        self.opened_at = 0.0
        self.transitions: list[tuple[float, State]] = []  # bounded below
        self._failures: deque[float] = deque()
        self._trial = False

    def _set(self, state: State, now: float) -> None:
        self.state = state
        self.transitions.append((now, state))
        if len(self.transitions) > 64:
            del self.transitions[:32]

    def available(self) -> bool:
        """Whether a call could be let through now, without reserving anything."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            return self.clock() - self.opened_at >= self.cooldown
        return not self._trial

    def acquire(self) -> bool:
        """Reserve the right to call: always when closed, the one trial when half-open."""
        state = self.state
        if state == CLOSED:
            return True
        now = self.clock()
        if state == OPEN:
            if now - self.opened_at < self.cooldown:
                return False
            self._set(HALF_OPEN, now)
            self._trial = False
        if self._trial:
            return False
        self._trial = True
        return True

    def success(self) -> None:
        if self.state != CLOSED:
            self._failures.clear()
            self._trial = False
            self._set(CLOSED, self.clock())

    def failure(self) -> None:
        now = self.clock()
        if self.state == HALF_OPEN:
            self._open(now)
            return
        if self.state == OPEN:
            return  # a call that started before the circuit opened
        failures = self._failures
        failures.append(now)
        horizon = now - self.window
        while failures and failures[0] < horizon:
            failures.popleft()
        if len(failures) >= self.threshold:
            self._open(now)

    def release(self) -> None:
        """The reserved call ended without a verdict (cancelled, or a bad request)."""
        self._trial = False

    def trip(self) -> None:
        """Open now (an active health probe saw the provider down)."""
        if self.state != OPEN:
            self._open(self.clock())

    def probe_ok(self) -> None:
        """An active probe saw the provider up: an open circuit may try again now."""
        if self.state == OPEN:
            self.opened_at = self.clock() - self.cooldown

    def _open(self, now: float) -> None:
        self._trial = False
        self._failures.clear()
        self.opened += 1
        self.opened_at = now
        self._set(OPEN, now)

    def info(self) -> CircuitInfo:
        now = self.clock()
        horizon = now - self.window
        failures = sum(1 for t in self._failures if t >= horizon)
        state, retry_in = self.state, None
        if state == OPEN:
            retry_in = self.opened_at + self.cooldown - now
            if retry_in <= 0:  # the cooldown is over: the next call is the trial
                state, retry_in = HALF_OPEN, None
        return CircuitInfo(self.key, state, failures, self.opened, retry_in)

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.key!r}, state={self.state!r})"
