"""``KeyStore``: verify, create, list, update and revoke virtual keys, with an in-process
cache that every process drops within a second of any change.

Verified keys are cached per process, so a call costs one HMAC and no database read.
Every change (create, update, revoke) bumps a version in the database, in the same
transaction, and with ``[state] backend = "redis"`` also a counter in Redis. Each
process looks at the Redis counter at most every 0.25 s (and at the database version
every 5 s, a safety net); without Redis, at the database version every 0.5 s. A
changed version drops the whole cache, so a revocation or an update reaches every
worker of every instance within ~0.5 s. Expiry is checked on every call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.gateway.keys.record import KeyPrincipal, VirtualKey, check_fields
from plugbay.gateway.keys.secret import (
    KeyHasher,
    MasterKey,
    master_key,
    new_id,
    new_secret,
    split,
)

if TYPE_CHECKING:
    from plugbay.cost.ledger import Ledger
    from plugbay.cost.shared import SharedState
    from plugbay.gateway.keys.db import KeyDB

__all__ = ["KeyStore", "open_store"]

log = logging.getLogger("plugbay.gateway.keys")

REDIS_EVERY = 0.25  # seconds between looks at the Redis version
DB_EVERY = 0.5  # ... at the database version, without Redis
DB_SAFETY_EVERY = 5.0  # ... at the database version, with Redis (a change made without it)
_MAX_CACHED = 10_000  # unknown ids are cached too; a flood of them must not grow memory
_DUMMY = "0" * 64  # compared against when the id is unknown, so both paths do one HMAC


def _refused(message: str = "invalid API key") -> errors.AuthenticationError:
    return errors.AuthenticationError(message, code="invalid_api_key")


class KeyStore:
    """The keys in ``db``. ``master``: the master key, which ``authenticate`` also
    accepts (as ``key_id=None``); ``shared``: Redis, to hear of changes sooner."""

    def __init__(self, db: KeyDB, hasher: KeyHasher, *, master: str | None = None,
                 shared: SharedState | None = None, ledger_url: str | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.hasher = hasher
        self.shared = shared
        self.ledger_url = ledger_url or db.url
        self.clock = clock
        self._master = MasterKey(master) if master else None
        self._monotonic = monotonic
        self._cache: dict[str, VirtualKey | None] = {}
        self._seen: dict[str, Any] = {}  # "redis"/"db" -> the version last seen
        self._due: dict[str, float] = {}  # "redis"/"db" -> when to look again
        self._ledger: Ledger | None = None

    # ------------------------------------------------------------ freshness

    async def _fresh(self) -> None:
        """Drop the cache if another process (or this one) changed a key."""
        now = self._monotonic()
        redis_down = False
        if self.shared is not None and now >= self._due.get("redis", 0.0):
            self._due["redis"] = now + REDIS_EVERY
            try:
                value = await self.shared.redis().get(self._redis_key())
            except self.shared.errors as exc:
                self.shared.unavailable(exc)
                redis_down = True  # the database decides, now
            else:
                self._observe("redis", value)
        if redis_down or now >= self._due.get("db", 0.0):
            self._due["db"] = now + (DB_EVERY if self.shared is None else DB_SAFETY_EVERY)
            self._observe("db", await asyncio.to_thread(self.db.version))

    def _observe(self, source: str, version: Any) -> None:
        if source in self._seen and self._seen[source] != version:
            self._cache.clear()
        self._seen[source] = version

    def _redis_key(self) -> str:
        assert self.shared is not None
        return f"{self.shared.prefix}:keys:version"

    async def _changed(self, key_id: str) -> None:
        """After a change: forget it here, and tell the other processes through Redis."""
        self._cache.pop(key_id, None)
        if self.shared is not None:
            try:
                await self.shared.redis().incr(self._redis_key())
            except self.shared.errors as exc:
                self.shared.unavailable(exc)  # they learn it from the database instead

    async def _lookup(self, key_id: str) -> VirtualKey | None:
        try:
            return self._cache[key_id]
        except KeyError:
            pass
        key = await asyncio.to_thread(self.db.get, key_id)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[key_id] = key
        return key

    # ------------------------------------------------------------ the hot path

    async def authenticate(self, secret: str) -> KeyPrincipal:
        """The caller ``secret`` belongs to, or ``AuthenticationError`` (401) for a key
        that is malformed, unknown, forged, expired or revoked."""
        await self._fresh()
        if self._master is not None and self._master.matches(secret):
            return KeyPrincipal(None, {}, None)
        key_id = split(secret)
        if key_id is None:
            raise _refused()
        key = await self._lookup(key_id)
        good = self.hasher.matches(secret, key.hash if key is not None else _DUMMY)
        if key is None or not good:
            raise _refused()
        why = key.usable(self.clock())
        if why is not None:
            raise _refused(f"virtual key {key.prefix} is {why}")
        return key.principal()

    async def key(self, key_id: str) -> VirtualKey | None:
        """The key with ``key_id`` as this process knows it (cached, kept fresh)."""
        await self._fresh()
        return await self._lookup(key_id)

    # ------------------------------------------------------------ administration

    async def create(self, **fields: Any) -> tuple[VirtualKey, str]:
        """A new key and its secret, which is shown this once and never stored."""
        values = check_fields(fields, self.clock())
        if values.get("budget") is not None:
            values.setdefault("period", "total")
        now = self.clock()
        for _ in range(5):
            key_id = new_id()
            secret = new_secret(key_id)
            key = VirtualKey(id=key_id, hash=self.hasher.hash(secret), created=now, **values)
            if await asyncio.to_thread(self.db.insert, key):
                await self._changed(key_id)
                log.info("created virtual key %s", key.prefix)
                return key, secret
        raise errors.PlugbayError("could not draw an unused key id in 5 tries")

    async def get(self, key_id: str) -> VirtualKey | None:
        return await asyncio.to_thread(self.db.get, key_id)

    async def list(self, *, revoked: bool = False) -> list[VirtualKey]:
        return await asyncio.to_thread(lambda: self.db.list(revoked=revoked))

    async def update(self, key_id: str, **fields: Any) -> VirtualKey | None:
        values = check_fields(fields, self.clock())
        values["updated"] = self.clock()
        key = await asyncio.to_thread(self.db.update, key_id, values)
        if key is not None:
            await self._changed(key_id)
            log.info("updated virtual key %s: %s", key.prefix, ", ".join(sorted(fields)))
        return key

    async def revoke(self, key_id: str) -> VirtualKey | None:
        now = self.clock()
        key = await asyncio.to_thread(self.db.update, key_id,
                                      {"revoked": now, "updated": now})
        if key is not None:
            await self._changed(key_id)
            log.info("revoked virtual key %s", key.prefix)
        return key

    # ------------------------------------------------------------ spend

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from plugbay.cost.ledger import Ledger

            self._ledger = Ledger(self.ledger_url)
        return self._ledger

    async def spent(self, key_id: str, since: float) -> float:
        """What the ledger holds for calls made with ``key_id`` since ``since``."""
        return await asyncio.to_thread(self.ledger().spent, since, "tag", f"key={key_id}")

    async def spend(self, key: VirtualKey) -> dict[str, Any]:
        """Spend today, this month and in all, and against the key's budget (USD)."""
        from plugbay.cost.budgets import period_bounds

        now = self.clock()
        day = await self.spent(key.id, period_bounds("daily", now)[1])
        month = await self.spent(key.id, period_bounds("monthly", now)[1])
        total = await self.spent(key.id, 0.0)
        current = {"daily": day, "monthly": month, "total": total}[key.period]
        return {"id": key.id, "prefix": key.prefix, "today": day, "this_month": month,
                "total": total, "budget": key.budget, "period": key.period,
                "spent_in_period": current,
                "remaining": (max(key.budget - current, 0.0) if key.budget is not None
                              else None)}

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()
        self.db.close()


def open_store(sections: Mapping[str, Any], env: Mapping[str, str], *,
               master: bool = True) -> KeyStore:
    """The keys of a config's ledger database (``[ledger]``) and shared state
    (``[state]``). ``master``: whether ``authenticate`` accepts the master key."""
    from plugbay.cost.control import state_settings
    from plugbay.cost.ledger import LedgerSettings
    from plugbay.gateway.keys.db import open_db

    hasher = KeyHasher.from_env(env)
    url = LedgerSettings.from_config(sections.get("ledger"), env).url
    if url is None:
        raise errors.ConfigError("virtual keys live in the ledger database, which is off: "
                                 "set [ledger] path or url", key="ledger")
    state = state_settings(sections.get("state"))
    shared = None
    if state["backend"] == "redis":
        from plugbay.cost.shared import SharedState

        shared = SharedState(state["url"], prefix=state["prefix"])
    return KeyStore(open_db(url), hasher, master=master_key(env) if master else None,
                    shared=shared, ledger_url=url)
