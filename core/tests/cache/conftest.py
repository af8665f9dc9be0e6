"""Fixtures for the cache tests: a FakeServer, the harness over it, and stores (Redis
from ``PLUGBAY_TEST_REDIS_URL``, db 15, each test under its own key prefix; skipped when
unreachable, failing under ``CI=true``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from plugbay.cache.memory import MemoryStore
from plugbay.cache.sqlite import SQLiteStore
from plugbay.testing.server import FakeServer

from .harness import REDIS_URL, Harness, redis_up


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
async def harness(srv: FakeServer) -> AsyncIterator[Harness]:
    h = Harness(srv.url)
    yield h
    await h.aclose()


def need_redis() -> None:
    try:
        import redis  # noqa: F401
    except ImportError:
        pytest.skip("redis-py is not installed (pip install 'plugbay[redis]')")
    if not redis_up():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; run .ci/services")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}; run .ci/services")


async def forget(prefix: str) -> None:
    """Delete every key under ``prefix``."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    need_redis()
    prefix = f"pbtest-cache-{uuid.uuid4().hex[:12]}"
    yield prefix
    await forget(prefix)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    """Each backend in turn, fresh."""
    if request.param == "memory":
        made: object = MemoryStore(1 << 20)
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "cache.db")
    else:
        need_redis()
        from plugbay.cache.redis import RedisStore

        prefix = f"pbtest-cache-{uuid.uuid4().hex[:12]}"
        made = RedisStore(REDIS_URL, prefix=prefix)
    yield made
    await made.aclose()  # type: ignore[attr-defined]
    if request.param == "redis":
        await forget(prefix)
