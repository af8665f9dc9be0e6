"""A revocation (or any change) made by one process reaches every other within a
second: each drops its cache when the version it watches moves (Redis every 0.25 s,
else the database every 0.5 s). The first tests drive the watch with a fake clock;
the last runs real separate processes on one Redis and one PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plugbay import errors
from plugbay.cost.shared import SharedState
from plugbay.gateway.keys import store as store_module

from .conftest import ENV, MASTER, clean_postgres, make_store

pytestmark = pytest.mark.timeout(120)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_without_redis_another_process_refuses_after_its_next_db_look(
        db_url: str) -> None:
    admin = make_store(db_url)
    clock = Clock()
    worker = make_store(db_url, monotonic=clock)  # its own connection: another process
    try:
        key, secret = await admin.create(name="w")
        assert (await worker.authenticate(secret)).key_id == key.id  # now cached
        await admin.revoke(key.id)
        clock.now += store_module.DB_EVERY / 2
        assert (await worker.authenticate(secret)).key_id == key.id  # still cached
        clock.now += store_module.DB_EVERY / 2  # its next look at the database
        with pytest.raises(errors.AuthenticationError, match="revoked"):
            await worker.authenticate(secret)
    finally:
        await admin.aclose()
        await worker.aclose()


async def test_with_redis_another_process_refuses_after_its_next_redis_look(
        db_url: str, redis_url: str) -> None:
    admin = make_store(db_url, SharedState(redis_url, prefix="pbkeys"))
    clock = Clock()
    worker = make_store(db_url, SharedState(redis_url, prefix="pbkeys"), monotonic=clock)
    try:
        key, secret = await admin.create(name="w", rpm=1)
        assert (await worker.authenticate(secret)).key_id == key.id
        await admin.update(key.id, models=["openai/*"])
        await admin.revoke(key.id)
        clock.now += store_module.REDIS_EVERY  # well before the database safety net
        assert store_module.REDIS_EVERY < store_module.DB_SAFETY_EVERY
        with pytest.raises(errors.AuthenticationError, match="revoked"):
            await worker.authenticate(secret)
    finally:
        await admin.aclose()
        await worker.aclose()


async def test_a_change_made_without_redis_still_reaches_a_redis_process(
        db_url: str, redis_url: str) -> None:
    admin = make_store(db_url)  # e.g. a CLI run with no [state] table
    clock = Clock()
    worker = make_store(db_url, SharedState(redis_url, prefix="pbkeys"), monotonic=clock)
    try:
        key, secret = await admin.create()
        await worker.authenticate(secret)
        await admin.revoke(key.id)
        clock.now += store_module.DB_SAFETY_EVERY
        with pytest.raises(errors.AuthenticationError, match="revoked"):
            await worker.authenticate(secret)
    finally:
        await admin.aclose()
        await worker.aclose()


async def test_redis_down_falls_back_to_the_database(db_url: str) -> None:
    admin = make_store(db_url)
    clock = Clock()
    dead = SharedState("redis://127.0.0.1:1/0", prefix="pbkeys")  # nothing listens there
    worker = make_store(db_url, dead, monotonic=clock)
    try:
        key, secret = await admin.create()
        await worker.authenticate(secret)
        await admin.revoke(key.id)
        clock.now += store_module.REDIS_EVERY  # the failed Redis look asks the database
        with pytest.raises(errors.AuthenticationError, match="revoked"):
            await worker.authenticate(secret)
    finally:
        await admin.aclose()
        await worker.aclose()


WORKER = textwrap.dedent("""
    import asyncio, json, sys, time
    from plugbay import errors
    from plugbay.cost.shared import SharedState
    from plugbay.gateway.keys.db import open_db
    from plugbay.gateway.keys.secret import KeyHasher
    from plugbay.gateway.keys.store import KeyStore

    db_url, redis_url, secret, ready = sys.argv[1:5]
    async def main():
        store = KeyStore(open_db(db_url), KeyHasher.from_env({"PLUGBAY_MASTER_KEY": sys.argv[5]}),
                         shared=SharedState(redis_url, prefix="pbkeys") if redis_url else None)
        await store.authenticate(secret)
        open(ready, "w").close()
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                await store.authenticate(secret)
            except errors.AuthenticationError as exc:
                print(json.dumps({"refused_at": time.time(), "why": str(exc)}))
                break
            await asyncio.sleep(0.005)
        await store.aclose()
    asyncio.run(main())
""")


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "postgres-only"])
def test_separate_processes_refuse_a_revoked_key(tmp_path: Path, with_redis: bool,
                                                 redis_url: str) -> None:
    """Four processes (two "instances" of two workers) on one PostgreSQL (and Redis)
    hold the key verified and cached; one revocation elsewhere reaches all of them.
    The delay is printed (-s); docs/gateway.md records it."""
    db_url = clean_postgres()
    import asyncio

    shared = SharedState(redis_url, prefix="pbkeys") if with_redis else None
    admin = make_store(db_url, shared)
    key, secret = asyncio.run(admin.create(name="everywhere"))
    env = {**os.environ, **ENV}
    ready = [tmp_path / f"ready{i}" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db_url,
                               redis_url if with_redis else "", secret, str(r), MASTER],
                              stdout=subprocess.PIPE, text=True, env=env) for r in ready]
    try:
        deadline = time.time() + 60
        while not all(r.exists() for r in ready) and time.time() < deadline:
            time.sleep(0.02)
        assert all(r.exists() for r in ready), "a worker did not start"
        time.sleep(0.6)  # let every worker pass a version look after its start

        async def revoke() -> float:
            await admin.revoke(key.id)
            done = time.time()
            await admin.aclose()
            return done
        revoked_at = asyncio.run(revoke())
        outs = []
        for p in procs:
            stdout, _ = p.communicate(timeout=60)
            assert p.returncode == 0
            outs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all("revoked" in o["why"] for o in outs)  # every process refused it
    delays = [o["refused_at"] - revoked_at for o in outs]
    print(f"\nrevocation reached {len(delays)} processes after "
          f"{', '.join(f'{d * 1000:.0f} ms' for d in delays)}")
