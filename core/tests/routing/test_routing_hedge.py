"""Hedged requests (``hedge`` on a route) against a slow and a fast upstream on real
sockets: past the hedge delay the next target is raced beside the first, the first to
answer wins, the other is cancelled (its ledger row says so and costs nothing), and a
fast first target never causes a second request."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from plugbay.testing.server import FakeServer

from .conftest import client, ok, path, sse_ok

pytestmark = pytest.mark.timeout(30)
SLOW = 3.0  # the slow upstream's delay: far above every hedge delay used here


def route(**kw: Any) -> dict[str, Any]:
    return {"r": {"strategy": "priority", "targets": ["a/m", "b/m"], "deadline": 10,
                  "hedge": 0.2, **kw}}


def ledger_rows(db: Path) -> list[tuple[str, str, float | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT provider, status, cost FROM calls ORDER BY id").fetchall()


async def test_a_slow_first_target_is_hedged_and_cancelled(srv: FakeServer,
                                                           tmp_path: Path) -> None:
    srv.add("POST", path("a"), ok("from a", delay=SLOW))
    srv.add("POST", path("b"), ok("from b"))
    db = tmp_path / "ledger.db"
    prices = {"a/m": {"input": 1.0, "output": 1.0}, "b/m": {"input": 1.0, "output": 1.0}}
    async with client(srv, route(), ledger={"path": str(db)}, prices=prices) as c:
        started = time.monotonic()
        done = await c.acomplete("r", "hi")
        elapsed = time.monotonic() - started
        c.cost_control.flush()
    assert done.text == "from b" and done.provider == "b"
    assert elapsed < SLOW  # did not wait for a
    attempts = [(a.target, a.outcome) for a in done.trace.attempts]
    assert attempts == [("a/m", "cancelled"), ("b/m", "ok")] or attempts == [
        ("b/m", "ok"), ("a/m", "cancelled")]
    assert "hedged to b/m after 0.2 s" in done.trace.reason
    rows = ledger_rows(db)
    assert sorted(rows, key=lambda r: r[0]) == [("a", "cancelled", None),
                                                 ("b", "ok", pytest.approx(5e-6))]
    assert len(srv.requests) == 2


async def test_a_fast_first_target_is_not_hedged(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("from a"))
    srv.add("POST", path("b"), ok("from b"))
    async with client(srv, route()) as c:
        done = await c.acomplete("r", "hi")
    assert done.text == "from a"
    assert [r.path for r in srv.requests] == [path("a")]  # b was never asked
    assert "hedged" not in done.trace.reason


async def test_a_stream_is_hedged_until_its_first_event(srv: FakeServer) -> None:
    srv.add("POST", path("a"), sse_ok(["slow ", "a"], delay=SLOW))
    srv.add("POST", path("b"), sse_ok(["fast ", "b"]))
    async with client(srv, route()) as c:
        started = time.monotonic()
        async with c.astream("r", "hi") as s:
            text = "".join([e.text async for e in s if e.type == "text"])
        elapsed = time.monotonic() - started
    assert text == "fast b" and s.completion is not None
    assert s.completion.provider == "b"
    assert elapsed < SLOW
    outcomes = {a.target: a.outcome for a in s.completion.trace.attempts}
    assert outcomes == {"a/m": "cancelled", "b/m": "ok"}


async def test_the_percentile_comes_from_the_first_targets_history(srv: FakeServer) -> None:
    """``hedge = "p90"``: after five fast answers from a, a slow one is hedged after
    about a's 90th-percentile latency, far sooner than ``hedge_after``."""
    srv.add("POST", path("a"), *[ok("fast a") for _ in range(5)], ok("slow a", delay=SLOW))
    srv.add("POST", path("b"), ok("from b"))
    async with client(srv, route(hedge="p90", hedge_after=2.5)) as c:
        for _ in range(5):
            assert (await c.acomplete("r", "hi")).text == "fast a"
        started = time.monotonic()
        done = await c.acomplete("r", "hi")
        elapsed = time.monotonic() - started
    assert done.text == "from b"
    assert elapsed < 2.0  # hedged on a's history, not after hedge_after (2.5 s)
    delay = float(done.trace.reason.rpartition("after ")[2].split()[0])
    assert delay < 1.0


async def test_when_both_fail_the_route_goes_on(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("never", delay=SLOW))
    srv.add("POST", path("b"), ok("never", delay=SLOW))
    async with client(srv, route(attempt_timeout=0.5, max_attempts=2)) as c:
        with pytest.raises(Exception) as info:
            await c.acomplete("r", "hi")
    trace = info.value.trace  # type: ignore[attr-defined]
    assert [a.outcome for a in trace.attempts] == ["error", "error"]
    assert type(info.value).__name__ == "TimeoutError"


def test_a_bad_hedge_value_is_one_clear_line(srv: FakeServer) -> None:
    from plugbay import errors

    with pytest.raises(errors.ConfigError, match="p90"):
        c = client(srv, route(hedge="fast"))
        c.complete("r", "hi")
