"""Client-side rate limits per provider instance and API key: requests and tokens per
minute over a sliding 60 s window (1 s buckets), waiting or raising when full, and
adapting to what providers say in their rate-limit headers.

Config::

    [rate_limits.openai]          # a provider instance
    rpm = 500                     # requests per minute (0 or absent: no limit)
    tpm = 200000                  # tokens per minute (prompt estimate + max_tokens, settled
                                  # to the real usage after the call)
    on_limit = "wait"             # or "raise" (RateLimitError, retry_after set)
    max_wait = 60                 # longest wait, seconds; beyond it: raise

With ``[state] backend = "redis"`` the counters live in Redis (one Lua script checks and
counts atomically), so N processes together stay under the limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from plugbay import errors

__all__ = ["LimitSpec", "MemoryLimitStore", "Permit", "RateLimiter", "parse_rate_limits",
           "server_block"]

WINDOW = 60


@dataclass(frozen=True)
class LimitSpec:
    rpm: int = 0
    tpm: int = 0
    on_limit: str = "wait"
    max_wait: float = 60.0


class Permit:
    __slots__ = ("key", "second", "tokens")

    def __init__(self, key: str, second: int, tokens: int) -> None:
        self.key, self.second, self.tokens = key, second, tokens


class LimitStore(Protocol):
    async def acquire(self, key: str, spec: LimitSpec, tokens: int,
                      ) -> tuple[int | None, float]:
        """Count one request of ``tokens``: ``(bucket second, 0)`` when admitted, else
        ``(None, seconds to wait)``."""
        ...

    async def adjust(self, key: str, second: int, delta: int) -> None:
        """Correct a bucket's tokens once the real usage is known."""
        ...

    async def block(self, key: str, until: float) -> None:
        """Admit nothing for ``key`` until Unix time ``until`` (server said so)."""
        ...

    def usage(self, key: str) -> tuple[int, int, float]:
        """(requests, tokens, blocked until) in the current window, as last seen."""
        ...

    async def aclose(self) -> None:
        ...


class MemoryLimitStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._w: dict[str, deque[list[int]]] = {}  # [second, requests, tokens]
        self._blocked: dict[str, float] = {}

    def _prune(self, key: str, now: float) -> deque[list[int]]:
        w = self._w.get(key)
        if w is None:
            w = self._w[key] = deque()
        horizon = int(now) - WINDOW
        while w and w[0][0] <= horizon:
            w.popleft()
        return w

    async def acquire(self, key: str, spec: LimitSpec, tokens: int,
                      ) -> tuple[int | None, float]:
        with self._lock:
            now = self.clock()
            until = self._blocked.get(key, 0.0)
            if until > now:
                return None, until - now
            w = self._prune(key, now)
            reqs = sum(b[1] for b in w)
            toks = sum(b[2] for b in w)
            if spec.rpm and reqs + 1 > spec.rpm:
                return None, w[0][0] + WINDOW - now
            if spec.tpm and toks and toks + tokens > spec.tpm:
                need, acc = toks + tokens - spec.tpm, 0
                for b in w:  # wait until enough old buckets have left the window
                    acc += b[2]
                    if acc >= need:
                        return None, b[0] + WINDOW - now
                return None, w[-1][0] + WINDOW - now
            sec = int(now)
            if w and w[-1][0] == sec:
                w[-1][1] += 1
                w[-1][2] += tokens
            else:
                w.append([sec, 1, tokens])
            return sec, 0.0

    async def adjust(self, key: str, second: int, delta: int) -> None:
        with self._lock:
            for b in self._w.get(key, ()):
                if b[0] == second:
                    b[2] = max(b[2] + delta, 0)
                    return

    async def block(self, key: str, until: float) -> None:
        with self._lock:
            if until > self._blocked.get(key, 0.0):
                self._blocked[key] = until

    def usage(self, key: str) -> tuple[int, int, float]:
        with self._lock:
            w = self._prune(key, self.clock())
            return (sum(b[1] for b in w), sum(b[2] for b in w), self._blocked.get(key, 0.0))

    async def aclose(self) -> None:
        return None


def parse_rate_limits(section: Any) -> dict[str, LimitSpec]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise errors.ConfigError("must be a table of provider instances", key="rate_limits")
    out = {}
    for name, table in section.items():
        where = f"rate_limits.{name}"
        if not isinstance(table, Mapping):
            raise errors.ConfigError("must be a table (rpm, tpm, on_limit, max_wait)", key=where)
        unknown = set(table) - {"rpm", "tpm", "on_limit", "max_wait"}
        if unknown:
            raise errors.ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key=where)
        for k in ("rpm", "tpm"):
            v = table.get(k, 0)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise errors.ConfigError("must be an integer >= 0", key=f"{where}.{k}")
        if table.get("on_limit", "wait") not in ("wait", "raise"):
            raise errors.ConfigError("must be 'wait' or 'raise'", key=f"{where}.on_limit")
        out[str(name)] = LimitSpec(table.get("rpm", 0), table.get("tpm", 0),
                                   table.get("on_limit", "wait"),
                                   float(table.get("max_wait", 60.0)))
    return out


def _seconds(value: Any, now: float) -> float | None:
    """A reset header: seconds (``20``), a duration (``6m0s``) or an RFC 3339 time."""
    from plugbay.http.hints import parse_duration

    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    secs = parse_duration(text)
    if secs is not None:
        return secs
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return max(when.timestamp() - now, 0.0)
    except ValueError:
        pass
    try:
        return max(email.utils.parsedate_to_datetime(text).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


# (remaining key, reset key) pairs in the header dialects plugins surface
_PAIRS = (("remaining-requests", "reset-requests"), ("remaining-tokens", "reset-tokens"),
          ("requests-remaining", "requests-reset"), ("tokens-remaining", "tokens-reset"),
          ("input-tokens-remaining", "input-tokens-reset"),
          ("output-tokens-remaining", "output-tokens-reset"), ("remaining", "reset"))


def server_block(limits: Mapping[str, Any], now: float) -> float | None:
    """When the provider's headers say a limit is used up: until when (Unix time)."""
    until = None
    for remaining, reset in _PAIRS:
        left = limits.get(remaining)
        if isinstance(left, int) and left <= 0 and reset in limits:
            secs = _seconds(limits[reset], now)
            if secs is not None:
                until = max(until or 0.0, now + secs)
    return until


class RateLimiter:
    """The rate limits of one ``Client``."""

    def __init__(self, specs: Mapping[str, LimitSpec], store: LimitStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.specs = dict(specs)
        self.store: LimitStore = store or MemoryLimitStore(clock)
        self.clock = clock
        self.server: dict[str, dict[str, Any]] = {}  # last headers seen, per provider
        self._keys: dict[tuple[str, str | None], str] = {}

    def key(self, provider: str, api_key: str | None) -> str:
        """The counter of a provider instance and its API key (hashed, never stored)."""
        k = self._keys.get((provider, api_key))
        if k is None:
            digest = hashlib.sha256((api_key or "").encode()).hexdigest()[:12]
            k = self._keys[(provider, api_key)] = f"{provider}:{digest}"
        return k

    async def acquire(self, provider: str, key: str, tokens: int) -> Permit | None:
        """Admit one call (waiting if configured), or raise ``RateLimitError``."""
        spec = self.specs.get(provider)
        if spec is None:
            spec = LimitSpec()  # no client limit; server blocks still apply
        waited = 0.0
        while True:
            second, wait = await self.store.acquire(key, spec, tokens)
            if second is not None:
                return Permit(key, second, tokens)
            wait = max(wait, 0.01)
            if spec.on_limit == "raise" or waited + wait > spec.max_wait:
                raise errors.RateLimitError(
                    f"client-side rate limit of {provider!r} reached (rpm={spec.rpm or '-'}, "
                    f"tpm={spec.tpm or '-'}); retry in {wait:.2f} s",
                    provider=provider, retry_after=wait, code="client_rate_limit")
            await asyncio.sleep(wait)
            waited += wait

    def would_wait(self, provider: str, key: str) -> bool:
        """Whether a call now would wait (as this process last saw the counters)."""
        requests, tokens, blocked = self.store.usage(key)
        if blocked > self.clock():
            return True
        spec = self.specs.get(provider)
        if spec is None:
            return False
        return bool((spec.rpm and requests + 1 > spec.rpm)
                    or (spec.tpm and tokens >= spec.tpm))

    async def note(self, provider: str, key: str, tokens: int) -> None:
        """Count a call made without ``acquire`` (a routed stream) so later calls see it."""
        await self.store.acquire(key, LimitSpec(), tokens)

    async def settle(self, permit: Permit | None, tokens: int | None) -> None:
        if permit is not None and tokens is not None and tokens != permit.tokens:
            await self.store.adjust(permit.key, permit.second, tokens - permit.tokens)

    async def observe(self, provider: str, key: str, limits: Mapping[str, Any] | None,
                      retry_after: float | None = None) -> None:
        """Adapt to the provider's headers (or a 429's ``retry_after``)."""
        now = self.clock()
        until = None
        if limits:
            self.server[provider] = dict(limits)
            until = server_block(limits, now)
        if retry_after is not None:
            until = max(until or 0.0, now + retry_after)
        if until is not None and until > now:
            await self.store.block(key, until)

    def status(self) -> list[dict[str, Any]]:
        """Per provider instance: configured limits, this window's use, server figures."""
        out = []
        now = self.clock()
        names = sorted(set(self.specs) | set(self.server)
                       | {p for p, _ in self._keys})
        for name in names:
            spec = self.specs.get(name, LimitSpec())
            keys = [k for (p, _), k in self._keys.items() if p == name]
            reqs = toks = 0
            blocked = 0.0
            for k in keys:
                r, t, b = self.store.usage(k)
                reqs, toks, blocked = reqs + r, toks + t, max(blocked, b)
            out.append({"provider": name, "rpm": spec.rpm or None, "tpm": spec.tpm or None,
                        "on_limit": spec.on_limit, "requests": reqs, "tokens": toks,
                        "blocked_for": max(blocked - now, 0.0) if blocked > now else 0.0,
                        "server": self.server.get(name, {})})
        return out
