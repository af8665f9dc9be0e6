"""``[cache]``: off until configured, SQLite beside the ledger by default, each bad value
named by its key, and ``PLUGBAY_CACHE`` over the file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from plugbay.cache.layer import CacheLayer
from plugbay.cache.memory import MemoryStore
from plugbay.cache.settings import CacheSettings, build, parse
from plugbay.cache.sqlite import SQLiteStore
from plugbay.errors import ConfigError
from plugbay.ledger import default_path


def test_off_until_configured() -> None:
    assert parse(None).enabled is False
    assert parse(False).enabled is False
    assert parse({"enabled": False, "backend": "memory"}).enabled is False
    assert build(parse(None), {}) is None


async def test_the_default_is_sqlite_beside_the_ledger(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    for section in (True, {}, {"ttl": 60}):
        settings = parse(section, env)
        assert settings.enabled and settings.backend == "sqlite" and settings.path is None
    layer = build(parse({"ttl": 60, "namespace": "team-a"}, env), env, timeout=12)
    assert isinstance(layer, CacheLayer) and isinstance(layer.store, SQLiteStore)
    assert layer.store.path == default_path(env).with_name("cache.db")
    assert (layer.ttl, layer.namespace, layer.timeout) == (60.0, "team-a", 12)
    assert stat.S_IMODE(layer.store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(layer.store.path.parent.stat().st_mode) == 0o700
    await layer.aclose()


def test_backend_follows_from_the_keys_given(tmp_path: Path) -> None:
    assert parse({"url": "redis://h:6379/0"}).backend == "redis"
    assert parse({"path": str(tmp_path / "c.db")}).backend == "sqlite"
    memory = parse({"max_bytes": 1000})
    assert (memory.backend, memory.max_bytes) == ("memory", 1000)
    layer = build(memory, {})
    assert isinstance(layer, CacheLayer) and isinstance(layer.store, MemoryStore)
    assert layer.store.max_bytes == 1000


@pytest.mark.parametrize(("section", "key"), [
    ({"backend": "disk"}, "cache.backend"),
    ({"ttl": 0}, "cache.ttl"),
    ({"ttl": "1h"}, "cache.ttl"),
    ({"ttl": True}, "cache.ttl"),
    ({"max_bytes": -1}, "cache.max_bytes"),
    ({"max_bytes": 1.5}, "cache.max_bytes"),
    ({"namespace": ""}, "cache.namespace"),
    ({"namespace": "a:b"}, "cache.namespace"),
    ({"backend": "redis"}, "cache.url"),
    ({"url": "http://h"}, "cache.url"),
    ({"backend": "memory", "path": "x.db"}, "cache.path"),
    ({"backend": "sqlite", "url": "redis://h"}, "cache.url"),
    ({"path": ""}, "cache.path"),
    ({"enabled": "yes"}, "cache.enabled"),
    ({"size": 10}, "cache.size"),
    ("memory", "cache"),
])
def test_bad_values_name_their_key(section: Any, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(section, file="plugbay.toml")
    assert info.value.key == key and info.value.file == "plugbay.toml"


def test_the_environment_overrides_the_section() -> None:
    section = {"backend": "memory", "max_bytes": 1000, "ttl": 5}
    assert parse(section, {"PLUGBAY_CACHE": "off"}).enabled is False
    redis = parse(section, {"PLUGBAY_CACHE": "redis://h:6379/1"})
    assert (redis.backend, redis.url, redis.ttl) == ("redis", "redis://h:6379/1", 5.0)
    disk = parse(section, {"PLUGBAY_CACHE": "/srv/plugbay/x.db"})
    assert (disk.backend, disk.path) == ("sqlite", "/srv/plugbay/x.db")
    assert parse(None, {"PLUGBAY_CACHE": "memory"}) == CacheSettings(True, "memory")


def test_redis_without_redis_py_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigError, match=r"plugbay\[redis\]"):
        build(parse({"url": "redis://127.0.0.1:6379/15"}), {})
