"""``Report``: the database's sums (hourly sums for whole hours, rows for the rest) equal
Python's grouping of the same rows, for every dimension, range and bucket; a row that
arrives after its hour was summed is counted; SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from plugbay.cli_usage import aggregate
from plugbay.cost.ledger import Ledger, UsageRecord
from plugbay.cost.ledger.report import Report

NOW = 1_800_000_000.0  # a fixed clock: hours before NOW - 2 min are summed
DIMS = {"provider": "provider", "model": "model", "route": "route", "status": "status",
        "key": "key", "tag:agent": "tag:agent", "tag:team": "tag:team"}


def records(n: int, seed: int = 3) -> list[UsageRecord]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        tags = {k: v for k, v in (("key", rnd.choice(["k1", "k2", None])),
                                  ("agent", rnd.choice(["a", None])),
                                  ("team", rnd.choice(["x", "y"]))) if v}
        ok = rnd.random() > 0.1
        out.append(UsageRecord(NOW - 30 * 3600 + i * 30 * 3600 / n + 1, rnd.choice("pq"),
                               rnd.choice(["m1", "m2"]), route=rnd.choice([None, "r"]),
                               input_tokens=rnd.randint(1, 100), cost=rnd.choice([0.5, None]),
                               latency=rnd.random(), status="ok" if ok else "error",
                               error=None if ok else "RateLimitError", tags=tags or None,
                               cache=rnd.choice([None, "hit", "miss"])))
    return out


def check(url: str) -> None:
    rows = records(600)
    ledger = Ledger(url)
    for r in rows[:500]:
        ledger.record(r)
    ledger.flush()
    report = Report(url, clock=lambda: NOW)
    rolled = report.refresh(force=True)
    assert rolled == int((NOW - 120) // 3600) * 3600
    late = [*rows[500:], UsageRecord(NOW - 20 * 3600, "p", "m1", cost=2.0,
                                     tags={"key": "k1"})]  # into an hour already summed
    for r in late:
        ledger.record(r)
    ledger.flush()
    report.refresh(force=True)
    everything = rows + late[-1:]
    for since, until in ((None, None), (NOW - 25.5 * 3600, NOW - 3.25 * 3600),
                         (NOW - 10 * 3600, None)):
        chosen = [r for r in everything if (since is None or r.ts >= since)
                  and (until is None or r.ts < until)]
        for dim, by in DIMS.items():
            want = {g["key"]: (g["calls"], g["errors"], g["input_tokens"],
                               round(g["cost"], 6), g["unpriced"], g["cache_hits"])
                    for g in aggregate(chosen, by)}
            got = {u.value: (u.calls, u.errors, u.input_tokens, round(u.cost, 6),
                             u.unpriced, u.hits) for u in report.usage(dim, since, until)}
            assert got == want, (dim, since, until)
        per_day = report.usage("all", since, until, "day")
        want_days = {g["key"]: g["calls"] for g in aggregate(chosen, "day")}
        from plugbay.cost.ledger.report import day_of

        assert {day_of(u.bucket): u.calls for u in per_day} == want_days
    for filters, match in (
            ({"key": "k1"}, lambda r: (r.tags or {}).get("key") == "k1"),
            ({"model": "q/m2"}, lambda r: (r.provider, r.model) == ("q", "m2")),
            ({"model": "m2"}, lambda r: r.model == "m2"),
            ({"status": "failed"}, lambda r: r.status != "ok"),
            ({"key": "k2", "status": "error"}, lambda r: r.status == "error" and (
                r.tags or {}).get("key") == "k2"),
            ({}, lambda r: True)):
        want = sorted((r.ts for r in everything if match(r)), reverse=True)
        got: list[float] = []
        cursor = None
        while True:  # page by page, 7 at a time
            page = report.calls(before=cursor, limit=7, **filters)
            got += [c.ts for c in page]
            if len(page) < 7:
                break
            cursor = (page[-1].ts, page[-1].id)
        assert got == pytest.approx(want), filters
    report.close()
    ledger.close()


def test_sums_equal_python_grouping_sqlite(tmp_path: Path) -> None:
    check(f"sqlite:///{tmp_path / 'l.db'}")


def test_sums_equal_python_grouping_postgres(postgres_url: str) -> None:
    check(postgres_url)


def test_unknown_dimension_is_refused(tmp_path: Path) -> None:
    report = Report(f"sqlite:///{tmp_path / 'l.db'}")
    with pytest.raises(ValueError):
        report.usage("tag:x'; DROP TABLE calls; --")
    report.close()


def test_a_lost_postgres_connection_is_replaced(postgres_url: str) -> None:
    import psycopg

    ledger = Ledger(postgres_url)
    ledger.record(UsageRecord(NOW - 3600 * 5, "p", "m1", cost=1.0))
    ledger.flush()
    report = Report(postgres_url, clock=lambda: NOW)
    assert report.usage("all")[0].calls == 1
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a restart would
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                      "AND application_name = ''")
    assert report.usage("all")[0].calls == 1
    report.close()
    ledger.close()


def test_two_readers_summing_at_once_count_each_row_once(tmp_path: Path,
                                                         postgres_url: str) -> None:
    import threading

    for url in (f"sqlite:///{tmp_path / 'c.db'}", postgres_url):
        ledger = Ledger(url)
        for r in records(400, seed=9):
            ledger.record(r)
        ledger.flush()
        readers = [Report(url, clock=lambda: NOW) for _ in range(4)]
        failures: list[BaseException] = []

        def refresh(report: Report) -> None:
            try:
                report.refresh(force=True)
            except BaseException as exc:  # a thread's exception would be lost
                failures.append(exc)  # noqa: B023  (joined before the next loop)
        threads = [threading.Thread(target=refresh, args=(r,)) for r in readers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        assert readers[0].usage("all")[0].calls == 400
        assert sum(u.calls for u in readers[1].usage("provider")) == 400
        for r in readers:
            r.close()
        ledger.close()


def test_a_backlog_is_summed_a_step_at_a_time(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The first refresh of an old ledger, 37 rows per transaction: the same sums."""
    from plugbay.cost.ledger import rollup

    monkeypatch.setattr(rollup, "STEP", 37)
    check(f"sqlite:///{tmp_path / 'steps.db'}")
