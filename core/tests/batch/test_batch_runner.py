"""``client.batch`` / ``client.abatch`` against a fake upstream on 127.0.0.1: results tied
to custom_id, per-item failures, a generator input never read ahead, back-pressure from
a slow consumer, 429s retried with a narrower window, a budget stop, the ledger tags."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.batch.runner import BatchStats, Control, ItemResult
from plugbay.testing.server import FakeServer, Reply

from .conftest import COST, MODEL, Upstream, config, error, request_line

pytestmark = [pytest.mark.timeout(120)]


def client(srv: FakeServer, tmp: Path, **sections: Any) -> plugbay.Client:
    return plugbay.Client(config(srv, tmp, **sections), env={"HOME": str(tmp)})


class Counted:
    """A generator of requests that knows how many it has handed out."""

    def __init__(self, n: int | None) -> None:
        self.pulled = 0
        self.n = n

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in itertools.count() if self.n is None else range(self.n):
            self.pulled += 1
            yield request_line(i)


async def test_results_are_tied_to_custom_id_and_failures_are_per_item(
        srv: FakeServer, tmp_path: Path) -> None:
    def fault(cid: str, attempt: int) -> Reply | None:
        return error(400, "invalid_request_error") if cid.endswith("7") else None

    Upstream(srv, fault=fault)
    stats = BatchStats()
    async with client(srv, tmp_path) as c:
        results = [r async for r in c.abatch(Counted(60), concurrency=8, stats=stats)]
        rows = c.ledger.fetch()  # type: ignore[union-attr]
    assert sorted(r.custom_id for r in results) == [f"req-{i:05d}" for i in range(60)]
    failed = {r.custom_id for r in results if not r.ok}
    assert failed == {f"req-{i:05d}" for i in range(60) if i % 10 == 7}
    for r in results:
        line = r.line()
        if r.ok:
            assert r.completion is not None and r.completion.text == f"answer to {r.custom_id}"
            assert line["response"]["body"]["choices"][0]["message"]["content"] == \
                f"answer to {r.custom_id}"
            assert r.cost == pytest.approx(COST) and line["error"] is None
        else:
            assert line["response"] is None
            assert line["error"]["status"] == 400 and line["error"]["code"]
    assert (stats.done, stats.failed) == (60, 6)
    assert stats.cost == pytest.approx(54 * COST)
    tagged = {(r.tags or {}).get("custom_id"): r.status for r in rows}
    assert len(tagged) == 60 and sum(s == "ok" for s in tagged.values()) == 54


async def test_a_generator_is_never_read_ahead_of_the_window(srv: FakeServer,
                                                           tmp_path: Path) -> None:
    up = Upstream(srv, delay=0.002)
    source = Counted(None)  # endless: materialising it would never return
    taken = 0
    async with client(srv, tmp_path) as c:
        async for _ in c.abatch(source, concurrency=8):
            taken += 1
            assert source.pulled - taken <= 8  # only the items in the window are live
            await asyncio.sleep(0.001)  # a slow consumer: the window waits for it
            if taken == 300:
                break
    assert source.pulled <= 308
    assert len(up.ids()) <= 308  # leaving the loop stopped the run


def test_sync_batch_and_leaving_early(srv: FakeServer, tmp_path: Path) -> None:
    up = Upstream(srv)
    with client(srv, tmp_path) as c:
        results = list(c.batch(Counted(40), concurrency=4))
        assert sorted(r.custom_id for r in results) == [f"req-{i:05d}" for i in range(40)]
        assert all(isinstance(r, ItemResult) and r.ok for r in results)
        for _r in c.batch(Counted(None), concurrency=4):
            break
    assert len(up.ids()) < 40 + 4 + 64  # the endless run stopped (Relay read-ahead at most)


async def test_429s_narrow_the_window_and_are_retried_not_failed(srv: FakeServer,
                                                                 tmp_path: Path) -> None:
    def fault(cid: str, attempt: int) -> Reply | None:
        return error(429, "rate_limit_exceeded") if attempt <= 3 else None

    up = Upstream(srv, fault=fault)
    stats = BatchStats()
    async with client(srv, tmp_path) as c:
        results = [r async for r in c.abatch(Counted(50), concurrency=16, stats=stats)]
    assert all(r.ok for r in results) and len(results) == 50
    assert stats.rate_limited == 150 and len(up.ids()) == 200
    assert stats.narrowest is not None and stats.narrowest < 16
    assert {r.attempts for r in results} == {4}


async def test_rate_limits_beyond_rate_retries_fail_the_item(srv: FakeServer,
                                                              tmp_path: Path) -> None:
    Upstream(srv, fault=lambda cid, attempt: error(429, "rate_limit_exceeded"))
    async with client(srv, tmp_path) as c:
        results = [r async for r in c.abatch(Counted(3), concurrency=2, rate_retries=2)]
    assert [type(r.error).__name__ for r in results] == ["RateLimitError"] * 3


async def test_a_budget_refusal_stops_the_run_without_failing_items(srv: FakeServer,
                                                                    tmp_path: Path) -> None:
    up = Upstream(srv)
    budgets = {"tight": {"scope": "global", "period": "daily", "limit": COST * 10,
                         "mode": "hard"}}
    stats = BatchStats()
    async with client(srv, tmp_path, budgets=budgets) as c:
        results = [r async for r in c.abatch(Counted(100), concurrency=4, stats=stats)]
    assert 0 < len(results) < 100 and all(r.ok for r in results)
    assert len(up.ids()) == len(results)
    assert stats.stopped is not None and stats.stopped.startswith("budget 'tight' reached")
    assert "stopped: budget 'tight'" in str(stats)


async def test_control_stop_lets_the_calls_in_flight_finish(srv: FakeServer,
                                                             tmp_path: Path) -> None:
    up = Upstream(srv, delay=0.01)
    control, got = Control(), []
    async with client(srv, tmp_path) as c:
        async for r in c.abatch(Counted(500), concurrency=8, control=control):
            got.append(r.custom_id)
            if len(got) == 20:
                control.stop("enough")
    assert 20 <= len(got) <= 28
    assert sorted(got) == sorted(up.answered)  # every answer given was yielded


async def test_input_forms_and_a_default_model(srv: FakeServer, tmp_path: Path) -> None:
    Upstream(srv)
    bad: list[Any] = []
    items = [request_line(1, "openai"), request_line(2),
             {"custom_id": "req-00003", "messages": [{"role": "user", "content": "req-00003"}],
              "temperature": 0.5, "stream": True},
             {"custom_id": "req-00004"}]
    async with client(srv, tmp_path) as c:
        results = [r async for r in c.abatch(items, default_model=MODEL, on_bad=bad.append)]
        sent = [r.json() for r in srv.requests]
    assert sorted(r.custom_id for r in results) == ["req-00001", "req-00002", "req-00003"]
    assert [b.line for b in bad] == [4] and "no messages" in bad[0].reason
    third = next(s for s in sent if s["messages"][-1]["content"] == "req-00003")
    assert third["temperature"] == 0.5 and not third.get("stream")
