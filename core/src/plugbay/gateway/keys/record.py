"""A virtual key as stored (``VirtualKey``), what a verified caller is (``KeyPrincipal``),
and the checking of the fields a key is created or updated with.

The secret itself is never part of a record: only its keyed hash is, and ``public()``
(what lists, the admin API and logs show) leaves even that out.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugbay.errors import ConfigError

__all__ = ["FIELDS", "PERIODS", "KeyPrincipal", "VirtualKey", "check_fields", "parse_expiry"]

PERIODS = ("daily", "monthly", "total")
# What create and update accept (the admin API's JSON body, the CLI's options).
FIELDS = ("name", "budget", "period", "rpm", "tpm", "models", "expires", "team", "user",
          "metadata")
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")


@dataclass(frozen=True)
class KeyPrincipal:
    """The verified caller, in the shape the gateway's ``Principal`` has: ``key_id``
    (``None`` for the master key), ``tags`` merged into the call's ledger tags, and
    ``models``, the allowed model or route globs (``None``: all)."""

    key_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    models: tuple[str, ...] | None = None

    def allows(self, model: str) -> bool:
        if self.models is None:
            return True
        return any(fnmatch.fnmatchcase(model, glob) for glob in self.models)


@dataclass(frozen=True)
class VirtualKey:
    """One key. Times are Unix seconds; ``budget`` is USD per ``period`` (daily, monthly
    or total); ``rpm``/``tpm`` 0 mean no limit; ``models`` ``None`` allows every model."""

    id: str
    hash: str
    created: float
    name: str | None = None
    budget: float | None = None
    period: str = "total"
    rpm: int = 0
    tpm: int = 0
    models: tuple[str, ...] | None = None
    expires: float | None = None
    revoked: float | None = None
    team: str | None = None
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    updated: float | None = None

    @property
    def prefix(self) -> str:
        """The non-secret start of the key, enough to recognise it (``pb-<id>``)."""
        return f"pb-{self.id}"

    def usable(self, now: float) -> str | None:
        """Why the key cannot be used now (``revoked``, ``expired``), else ``None``."""
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and now >= self.expires:
            return "expired"
        return None

    def principal(self) -> KeyPrincipal:
        tags = {"key": self.id}
        if self.team:
            tags["team"] = self.team
        if self.user:
            tags["user"] = self.user
        return KeyPrincipal(self.id, tags, self.models)

    def public(self) -> dict[str, Any]:
        """Everything but the hash: what lists and the admin API show."""
        return {"id": self.id, "prefix": self.prefix, "name": self.name,
                "budget": self.budget, "period": self.period, "rpm": self.rpm or None,
                "tpm": self.tpm or None,
                "models": list(self.models) if self.models is not None else None,
                "expires": _iso(self.expires), "revoked": _iso(self.revoked),
                "created": _iso(self.created), "updated": _iso(self.updated),
                "team": self.team, "user": self.user, "metadata": dict(self.metadata)}


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def parse_expiry(value: Any, now: float | None = None) -> float | None:
    """``30d``/``12h``/``90m``/``2w`` from now, an ISO date or time (UTC unless it says),
    Unix seconds, or ``None``/``"never"`` for no expiry."""
    if value is None or value in ("", "never", "none"):
        return None
    now = time.time() if now is None else now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    m = _RELATIVE.match(text)
    if m:
        unit = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        return now + int(m.group(1)) * unit
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r} is not a time: use 30d, 12h, 2w, 2027-01-31 or "
                          "2027-01-31T12:00", key="expires") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _number(name: str, value: Any, *, integer: bool = False) -> Any:
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value < 0:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"must be {kind} >= 0, got {value!r}", key=name)
    return int(value) if integer else float(value)


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200 or "\x00" in value:
        # PostgreSQL text cannot hold NUL; refuse it everywhere, the same way
        raise ConfigError("must be a string of at most 200 characters, without NUL",
                          key=name)
    return value


def check_fields(data: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """The key fields in ``data``, checked and normalised; a ``ConfigError`` naming the
    field otherwise. Only the fields present are returned (an update changes those)."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(unknown)}; known: "
                          f"{', '.join(FIELDS)}", key=unknown[0])
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name == "budget":
            out[name] = _number(name, value)
        elif name in ("rpm", "tpm"):
            out[name] = _number(name, value, integer=True) or 0
        elif name == "period":
            if value not in PERIODS:
                raise ConfigError(f"must be one of {', '.join(PERIODS)}, got {value!r}",
                                  key=name)
            out[name] = value
        elif name == "models":
            if value is not None and (not isinstance(value, (list, tuple)) or not all(
                    isinstance(g, str) and g for g in value)):
                raise ConfigError("must be a list of model or route names (globs like "
                                  "'openai/*'), or null for all", key=name)
            out[name] = (tuple(str(_text(name, g)) for g in value) if value is not None
                         else None)
        elif name == "expires":
            out[name] = parse_expiry(value, now)
        elif name == "metadata":
            if value is None:
                value = {}
            if not isinstance(value, Mapping) or len(value) > 50:
                raise ConfigError("must be an object of at most 50 string keys and values",
                                  key=name)
            out[name] = {_text(f"{name}.{k}", k): _text(f"{name}.{k}", v)
                         for k, v in value.items()}
        else:
            out[name] = _text(name, value)
    return out
