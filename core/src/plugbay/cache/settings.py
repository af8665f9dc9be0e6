"""The ``[cache]`` section of ``plugbay.toml``, and the layer it builds.

Caching is off until configured::

    [cache]
    backend = "sqlite"          # "memory", "sqlite" (the default) or "redis"
    ttl = 86400                 # seconds an entry lives (default: a day)
    namespace = "default"       # caches sharing a store keep apart by namespace
    max_bytes = 67108864        # memory: the most the entries may hold (default 64 MiB)
    path = "~/cache.db"         # sqlite: the file (default: cache.db beside the ledger)
    url = "redis://host:6379/0" # redis: the server
    prefix = "plugbay"          # redis: keys are <prefix>:cache:<namespace>:<key>
    enabled = true              # false: keep the section but switch the cache off

``[cache]`` alone (or ``cache = true``) means SQLite with the defaults. Without
``backend``, a ``url`` means Redis, a ``path`` SQLite and a ``max_bytes`` memory.
``PLUGBAY_CACHE`` overrides the section: ``off``, ``memory``, a ``redis://`` URL or a
SQLite file path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugbay.errors import ConfigError

if TYPE_CHECKING:
    from plugbay.cache.base import Store
    from plugbay.cache.layer import CacheLayer
    from plugbay.cache.steps import OnHit

__all__ = ["BACKENDS", "CacheSettings", "build", "parse"]

BACKENDS = ("memory", "sqlite", "redis")
_KEYS = frozenset({"enabled", "backend", "ttl", "namespace", "max_bytes", "path", "url",
                   "prefix"})
_ONLY = {"max_bytes": "memory", "path": "sqlite", "url": "redis", "prefix": "redis"}
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = False
    backend: str = "sqlite"
    ttl: float = 24 * 3600.0
    namespace: str = "default"
    max_bytes: int = 64 * 1024 * 1024
    path: str | None = None  # None: the default file
    url: str | None = None
    prefix: str = "plugbay"


def _bad(key: str, reason: str, file: str | None) -> ConfigError:
    return ConfigError(reason, file=file, key=f"cache.{key}")


def _from_env(value: str) -> dict[str, Any]:
    value = value.strip()
    if value.lower() in ("off", "false", "0", "no", "none", ""):
        return {"enabled": False}
    if value.lower() in BACKENDS:
        return {"backend": value.lower()}
    if value.startswith(_REDIS_SCHEMES):
        return {"backend": "redis", "url": value}
    return {"backend": "sqlite", "path": value}


def parse(section: Any, env: Mapping[str, str] | None = None, *,
          file: str | None = None) -> CacheSettings:
    """Read ``[cache]`` (a mapping, ``True``/``False`` or ``None``) and ``PLUGBAY_CACHE``."""
    if section is None or section is False:
        table: dict[str, Any] = {"enabled": False}
    elif section is True:
        table = {}
    elif isinstance(section, Mapping):
        table = dict(section)
    else:
        raise ConfigError("must be a table ([cache]) or true/false", file=file, key="cache")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise _bad(unknown[0], f"unknown key; the keys are {', '.join(sorted(_KEYS))}", file)
    override = (env or {}).get("PLUGBAY_CACHE")
    if override is not None:
        table = {k: v for k, v in table.items() if k not in ("enabled", "backend", "path",
                                                              "url")}
        table.update(_from_env(override))
        chosen = table.get("backend", _infer(table))
        table = {k: v for k, v in table.items() if _ONLY.get(k, chosen) == chosen}
    enabled = table.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise _bad("enabled", "must be true or false", file)
    backend = table.get("backend", _infer(table))
    if backend not in BACKENDS:
        raise _bad("backend", f"must be one of {', '.join(BACKENDS)}, not {backend!r}", file)
    for key, only in _ONLY.items():
        if key in table and backend != only:
            raise _bad(key, f"only applies to backend = {only!r} (backend is {backend!r})",
                       file)
    ttl = table.get("ttl", CacheSettings.ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise _bad("ttl", f"must be a positive number of seconds, not {ttl!r}", file)
    max_bytes = table.get("max_bytes", CacheSettings.max_bytes)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise _bad("max_bytes", f"must be a positive whole number of bytes, not {max_bytes!r}",
                   file)
    names = {k: table.get(k, getattr(CacheSettings, k)) for k in ("namespace", "prefix")}
    for key, value in names.items():
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise _bad(key, f"must be letters, digits, '_', '.' or '-', not {value!r}", file)
    path, url = table.get("path"), table.get("url")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise _bad("path", "must be a file path", file)
    redis_url = isinstance(url, str) and url.startswith(_REDIS_SCHEMES)
    if backend == "redis" and not redis_url:
        raise _bad("url", "backend = 'redis' needs url = 'redis://host:port/db' "
                   f"(or rediss://, unix://), not {url!r}", file)
    return CacheSettings(enabled, backend, float(ttl), names["namespace"], max_bytes, path,
                         url, names["prefix"])


def _infer(table: Mapping[str, Any]) -> str:
    if "url" in table:
        return "redis"
    if "max_bytes" in table and "path" not in table:
        return "memory"
    return "sqlite"


def default_path(env: Mapping[str, str]) -> Path:
    """``cache.db`` beside the ledger, under the user's data dir."""
    from plugbay.ledger import default_path as ledger_path

    return ledger_path(env).with_name("cache.db")


def open_store(settings: CacheSettings, env: Mapping[str, str]) -> Store:
    """The store ``settings`` name (it opens its file or connects lazily)."""
    if settings.backend == "memory":
        from plugbay.cache.memory import MemoryStore

        return MemoryStore(settings.max_bytes)
    if settings.backend == "redis":
        from plugbay.cache.redis import RedisStore

        assert settings.url is not None
        return RedisStore(settings.url, namespace=settings.namespace, prefix=settings.prefix)
    from plugbay.cache.sqlite import SQLiteStore

    if settings.path is None:
        return SQLiteStore(default_path(env), private_dir=True)
    return SQLiteStore(Path(settings.path).expanduser())


def build(settings: CacheSettings, env: Mapping[str, str], *, on_hit: OnHit | None = None,
          timeout: float | None = None) -> CacheLayer | None:
    """The cache layer ``settings`` describe, or ``None`` when caching is off."""
    if not settings.enabled:
        return None
    from plugbay.cache.layer import CacheLayer

    return CacheLayer(open_store(settings, env), ttl=settings.ttl,
                      namespace=settings.namespace, on_hit=on_hit, timeout=timeout)
