"""The three stores behind one protocol: get/set, lifetimes, the single-flight lock, and
what is particular to each (memory evicts by bytes, SQLite's file, Redis's key layout)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from plugbay.cache.base import Store
from plugbay.cache.memory import MemoryStore
from plugbay.cache.sqlite import SQLiteStore

from .conftest import forget, need_redis
from .harness import REDIS_URL


async def test_every_backend_speaks_the_protocol(store: Any) -> None:
    assert isinstance(store, Store)
    assert await store.get("k") is None
    await store.set("k", b"one", 60)
    assert await store.get("k") == b"one"
    await store.set("k", b"two \x00\xff", None)  # overwrite; any bytes
    assert await store.get("k") == b"two \x00\xff"
    assert await store.get("other") is None


async def test_entries_expire_after_their_ttl(store: Any) -> None:
    await store.set("short", b"x", 0.2)
    await store.set("long", b"y", 60)
    await store.set("forever", b"z", None)
    assert await store.get("short") == b"x"
    await asyncio.sleep(0.35)
    assert await store.get("short") is None
    assert await store.get("long") == b"y"
    assert await store.get("forever") == b"z"


async def test_the_lock_is_held_by_one_token_at_a_time(store: Any) -> None:
    if not store.shared:  # this process's own flights cover it: always granted
        assert await store.claim("k", "t1", 5) and await store.claim("k", "t2", 5)
        return
    assert await store.claim("k", "t1", 5)
    assert not await store.claim("k", "t2", 5)
    assert await store.claim("k", "t1", 5)  # its holder extends it
    await store.release("k", "t2")  # not the holder: nothing happens
    assert not await store.claim("k", "t2", 5)
    await store.release("k", "t1")
    assert await store.claim("k", "t2", 5)
    assert await store.claim("other", "t1", 5)  # one lock per key


async def test_a_lock_lapses_when_its_holder_stops_extending_it(store: Any) -> None:
    if not store.shared:
        pytest.skip("a process-local store has no lock to lapse")
    assert await store.claim("k", "dead", 0.2)
    assert not await store.claim("k", "next", 5)
    await asyncio.sleep(0.35)
    assert await store.claim("k", "next", 5)


# ------------------------------------------------------------------------ memory


async def test_memory_evicts_the_least_recently_used_by_bytes() -> None:
    store = MemoryStore(max_bytes=100)
    await store.set("k1", b"a" * 30, None)  # 32 bytes each, key included
    await store.set("k2", b"b" * 30, None)
    await store.set("k3", b"c" * 30, None)
    assert store.size == 96 and len(store) == 3
    assert await store.get("k1") == b"a" * 30  # k1 is now the most recent
    await store.set("k4", b"d" * 30, None)  # 128 > 100: the oldest (k2) goes
    assert await store.get("k2") is None
    assert [await store.get(k) is not None for k in ("k1", "k3", "k4")] == [True] * 3
    assert store.size == 96
    await store.set("k5", b"e" * 80, None)  # 82 bytes: three entries must go
    assert store.size == 82 and len(store) == 1
    assert await store.get("k5") == b"e" * 80


async def test_memory_keeps_no_entry_bigger_than_itself() -> None:
    store = MemoryStore(max_bytes=50)
    await store.set("small", b"x" * 10, None)
    await store.set("big", b"y" * 60, None)
    assert await store.get("big") is None
    assert await store.get("small") == b"x" * 10  # nothing evicted for it
    await store.set("small", b"z" * 20, None)  # an overwrite counts once
    assert store.size == 25


# ------------------------------------------------------------------------ sqlite


async def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "cache.db"
    store = SQLiteStore(path)
    await store.set("k", b"secret prompt", None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for extra in path.parent.glob("cache.db-*"):  # WAL and shm files follow the db
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra
    await store.aclose()


async def test_sqlite_tightens_plugbay_own_folder_only(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "plugbay", tmp_path / "theirs"
    mine.mkdir(mode=0o755)
    theirs.mkdir(mode=0o755)
    await SQLiteStore(mine / "cache.db", private_dir=True).aclose()
    await SQLiteStore(theirs / "cache.db").aclose()
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o755


async def test_sqlite_prunes_expired_rows_on_write(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    first = SQLiteStore(path)
    await first.set("old", b"x", 0.05)
    await first.claim("lock", "t", 0.05)
    await first.aclose()
    await asyncio.sleep(0.1)
    second = SQLiteStore(path)  # a fresh store sweeps on its first write
    await second.set("new", b"y", 60)
    await second.aclose()
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT key FROM entries")] == ["new"]
        assert db.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0


async def test_sqlite_is_shared_between_connections(tmp_path: Path) -> None:
    one, two = SQLiteStore(tmp_path / "c.db"), SQLiteStore(tmp_path / "c.db")
    await one.set("k", b"v", 60)
    assert await two.get("k") == b"v"
    assert await one.claim("k", "t1", 5)
    assert not await two.claim("k", "t2", 5)
    await one.aclose()
    await two.aclose()


# ------------------------------------------------------------------------ redis


async def test_redis_keys_live_under_prefix_cache_namespace() -> None:
    need_redis()
    import redis.asyncio as aioredis

    from plugbay.cache.redis import RedisStore

    prefix = f"pbtest-cache-{uuid.uuid4().hex[:12]}"
    store = RedisStore(REDIS_URL, namespace="team-a", prefix=prefix)
    other = RedisStore(REDIS_URL, namespace="team-b", prefix=prefix)
    await store.set("abc", b"v", 60)
    await store.claim("abc", "t", 5)
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = sorted([k.decode() async for k in raw.scan_iter(match=f"{prefix}:*")])
        assert keys == [f"{prefix}:cache:team-a:abc", f"{prefix}:cache:team-a:lock:abc"]
        assert 0 < await raw.pttl(f"{prefix}:cache:team-a:abc") <= 60_000
        assert await other.get("abc") is None  # namespaces never meet
    finally:
        await raw.aclose()
        await store.aclose()
        await other.aclose()
        await forget(prefix)
