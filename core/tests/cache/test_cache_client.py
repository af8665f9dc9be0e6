"""The cache as users meet it: ``[cache]`` in the config of a real ``Client``, the layer
composed into the pipeline, hit rows in the ledger and in ``plugbay usage``, routes, and
real processes (a restart over SQLite; four processes sharing Redis)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.testing.server import FakeServer

from .conftest import forget, need_redis
from .harness import COST, PRICE, REDIS_URL, ok, path, sse

pytestmark = pytest.mark.timeout(60)


def config(srv: FakeServer, tmp: Path, cache: Any, **sections: Any) -> dict[str, Any]:
    return {
        "providers": {n: {"plugin": "openai", "api_key": f"sk-test-{n}-0123456789abcdef",
                          "base_url": f"{srv.url}/{n}/v1"} for n in ("a", "b")},
        "prices": {f"{n}/m": PRICE for n in ("a", "b")},
        "ledger": {"path": str(tmp / "ledger.db")},
        "cache": cache,
        **sections,
    }


def rows(client: plugbay.Client) -> list[Any]:
    assert client.ledger is not None
    client.ledger.flush()
    return sorted(client.ledger.fetch(), key=lambda r: r.ts)


def test_cache_is_off_until_configured(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok())
    cfg = config(srv, tmp_path, None)
    del cfg["cache"]
    with plugbay.Client(cfg, env={}) as client:
        assert "cache" not in client.pipeline.names()
        client.complete("a/m", "hi")
        client.complete("a/m", "hi")
    assert len(srv.requests) == 2


async def test_100_concurrent_calls_reach_the_upstream_once(srv: FakeServer,
                                                            tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok("the answer", delay=0.3))
    async with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}), env={}) as client:
        assert client.pipeline.names() == ["cache", "routing", "metering", "dispatch"]
        answers = await asyncio.gather(*(client.acomplete("a/m", "same question")
                                         for _ in range(100)))
        assert {a.text for a in answers} == {"the answer"}
        assert len(srv.requests) == 1
        ledger = rows(client)
    # one row for the call that went upstream, one per answer the cache gave
    assert [r.cache for r in ledger].count("miss") == 1
    hits = [r for r in ledger if r.cache == "hit"]
    assert len(hits) == 99
    assert all(r.cost == 0.0 and r.saved == pytest.approx(COST) for r in hits)
    assert next(r for r in ledger if r.cache == "miss").cost == pytest.approx(COST)


def test_plugbay_usage_shows_hits_misses_and_saved_cost(srv: FakeServer,
                                                        tmp_path: Path) -> None:
    from plugbay.cli import main

    srv.add("POST", path("a"), ok())
    with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}), env={}) as client:
        for _ in range(3):
            client.complete("a/m", "hi")
    out = io.StringIO()
    assert main(["usage", "--ledger", str(tmp_path / "ledger.db"), "--by", "provider"],
                out) == 0
    header, row = out.getvalue().splitlines()[:2]
    assert header.split()[-4:] == ["HITS", "MISSES", "SAVED", "$"]
    cells = row.split()
    assert cells[0] == "a" and cells[1] == "3"
    assert cells[-3:] == ["2", "1", f"{2 * COST:.6f}"]
    out = io.StringIO()
    main(["usage", "--ledger", str(tmp_path / "ledger.db"), "--json"], out)
    (day,) = json.loads(out.getvalue())
    assert (day["cache_hits"], day["cache_misses"]) == (2, 1)
    assert day["saved"] == pytest.approx(2 * COST) and day["cost"] == pytest.approx(COST)


def test_a_failed_over_call_is_one_miss_in_plugbay_usage(srv: FakeServer,
                                                        tmp_path: Path) -> None:
    """Rows are attempts: the failed first attempt is a row (an error), but the call was
    one cache miss, and the hit rate reads hits / (hits + misses) per answered call."""
    from plugbay.cli import main
    from plugbay.testing.server import Reply

    srv.add("POST", path("a"), Reply.json({"error": {"message": "down"}}, status=500))
    srv.add("POST", path("b"), ok("from b"))
    routes = {"r": {"strategy": "priority", "targets": ["a/m", "b/m"]}}
    with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}, routes=routes),
                        env={}) as client:
        for _ in range(3):
            assert client.complete("r", "hi").text == "from b"
        ledger = rows(client)
    assert [(r.provider, r.status, r.cache) for r in ledger] == [
        ("a", "error", "miss"), ("b", "ok", "miss"), ("b", "ok", "hit"), ("b", "ok", "hit")]
    out = io.StringIO()
    main(["usage", "--ledger", str(tmp_path / "ledger.db"), "--by", "route", "--json"], out)
    (route,) = json.loads(out.getvalue())
    assert (route["calls"], route["errors"]) == (4, 1)
    assert (route["cache_hits"], route["cache_misses"]) == (2, 1)


async def test_a_replayed_stream_equals_the_original(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", path("a"), sse(["The ", "cached ", "answer."]))
    async with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}), env={}) as client:
        first = client.astream("a/m", "tell me")
        events = [e async for e in first]
        again = client.astream("a/m", "tell me")
        replayed = [e async for e in again]
    assert len(srv.requests) == 1
    assert replayed == events
    a, b = first.completion, again.completion
    assert a is not None and b is not None
    keep = {"text", "tool_calls", "finish_reason", "usage", "provider", "model", "price"}
    assert b.model_dump(include=keep) == a.model_dump(include=keep)
    assert a.provider == "a" and a.price is not None


async def test_a_route_is_cached_as_one_logical_call(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok("from a"))
    routes = {"r": {"strategy": "priority", "targets": ["a/m", "b/m"]}}
    async with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}, routes=routes),
                              env={}) as client:
        assert client.pipeline.names() == ["cache", "routing", "metering", "dispatch"]
        first = await client.acomplete("r", "hi")
        hit = await client.acomplete("r", "hi")
        assert (first.text, hit.text, hit.extra.get("cache")) == ("from a", "from a", "hit")
        assert len(srv.requests) == 1
        await client.acomplete("a/m", "hi")  # the provider itself: not the route's entry
        assert len(srv.requests) == 2


def test_a_hit_spends_no_budget(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok())
    budget = {"day": {"scope": "global", "period": "daily", "limit": 1.5 * COST}}
    with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}, budgets=budget),
                        env={}) as client:
        for _ in range(5):  # only the first costs; a second paid call would not fit
            client.complete("a/m", "hi")
        assert len(srv.requests) == 1


def test_per_call_modes(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok())
    with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}), env={}) as client:
        client.complete("a/m", "hi", cache="no-store")
        client.complete("a/m", "hi")  # nothing was stored: upstream again, stored now
        client.complete("a/m", "hi")  # a hit
        client.complete("a/m", "hi", cache="no-cache")  # skips the read
    assert len(srv.requests) == 3


# ---------------------------------------------------------------- real processes

WORKER = textwrap.dedent("""
    import asyncio, json, sys, time
    import plugbay
    cfg, start, n = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])

    async def main():
        async with plugbay.Client(cfg, env={}) as client:
            client.pipeline  # compose (and load the plugin) before the clock
            client.context("a")
            await asyncio.sleep(max(0.0, start - time.time()))
            answers = await asyncio.gather(*(client.acomplete("a/m", "the same question")
                                             for _ in range(n)))
            print(json.dumps([a.text for a in answers]))

    asyncio.run(main())
""")


def run_workers(cfg: dict[str, Any], processes: int, each: int,
                tmp: Path) -> list[list[str]]:
    start = time.time() + 3.0  # every process is up and composed before it
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(cfg), str(start),
                               str(each)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={"HOME": str(tmp)})
             for _ in range(processes)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=90)
        assert p.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout))
    return out


@pytest.mark.slow
def test_four_processes_sharing_redis_reach_the_upstream_once(srv: FakeServer,
                                                              tmp_path: Path) -> None:
    need_redis()
    prefix = f"pbtest-client-{uuid.uuid4().hex[:10]}"
    srv.add("POST", path("a"), ok("shared", delay=0.5))
    cfg = config(srv, tmp_path, {"backend": "redis", "url": REDIS_URL, "prefix": prefix})
    try:
        answers = run_workers(cfg, 4, 25, tmp_path)
    finally:
        asyncio.run(forget(prefix))
    assert [len(a) for a in answers] == [25] * 4
    assert {t for a in answers for t in a} == {"shared"}
    assert len(srv.requests) == 1


@pytest.mark.slow
def test_a_sqlite_hit_survives_a_process_restart(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok("remembered"))
    cfg = config(srv, tmp_path, {"backend": "sqlite", "path": str(tmp_path / "cache.db")})
    assert run_workers(cfg, 1, 1, tmp_path) == [["remembered"]]
    assert run_workers(cfg, 1, 1, tmp_path) == [["remembered"]]  # a new process
    assert len(srv.requests) == 1


def test_adding_a_route_later_keeps_the_cache(srv: FakeServer, tmp_path: Path) -> None:
    """Making the router after the first call recomposes the pipeline, not the cache."""
    srv.add("POST", path("a"), ok())
    with plugbay.Client(config(srv, tmp_path, {"backend": "memory"}), env={}) as client:
        client.complete("a/m", "hi")
        client.router.add_route("r", targets=["a/m"])
        assert client.pipeline.names()[:2] == ["cache", "routing"]
        assert client.complete("a/m", "hi").extra.get("cache") == "hit"
    assert len(srv.requests) == 1
