"""Rows go in grouped by which columns are NULL (``records.by_nulls``): whatever mix of
empty and filled columns a batch holds, every row reads back exactly as it went in."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from plugbay.cost.ledger import Ledger
from plugbay.cost.ledger.records import COLUMNS, UsageRecord, by_nulls

NULLABLE = ("route", "cost", "latency", "ttft", "error", "tags", "request_id", "prompt",
            "response", "cache", "saved")


def mixed_records() -> list[UsageRecord]:
    """One record per subset of up to two nullable columns filled, plus all filled."""
    full = {"route": "r", "cost": 0.5, "latency": 0.25, "ttft": 0.125, "error": "E",
            "tags": {"team": "a", "k": "v"}, "request_id": "req", "prompt": "",
            "response": "", "cache": "miss", "saved": 0.0}
    out = []
    subsets = [*itertools.combinations(NULLABLE, 0), *itertools.combinations(NULLABLE, 1),
               *itertools.combinations(NULLABLE, 2), NULLABLE]
    for i, filled in enumerate(subsets):
        record = UsageRecord(1000.0 + i, "p", "m", input_tokens=i, stream=i % 2 == 0,
                             uid=f"u-{i}", **{k: full[k] for k in filled})
        out.append(record)
    return out


def test_groups_cover_every_row_once() -> None:
    rows = [r.row() for r in mixed_records()]
    grouped = by_nulls(rows, "?")
    assert sum(len(g) for _, g in grouped) == len(rows)
    for sql, group in grouped:
        names = sql.partition("(")[2].partition(")")[0].split(", ")
        assert set(names) <= set(COLUMNS)
        assert all(len(values) == len(names) for values in group)
        assert all(v is not None for values in group for v in values)


def _round_trip(url: str) -> None:
    records = mixed_records()
    ledger = Ledger(url)
    try:
        ledger.writer.backend().write(records)
        got = {r.uid: r for r in ledger.fetch()}
    finally:
        ledger.close()
    assert len(got) == len(records)
    for r in records:
        assert got[r.uid] == r, r.uid


def test_sqlite_round_trip_of_every_null_pattern(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'ledger.db'}")


def test_postgres_round_trip_of_every_null_pattern(postgres_url: str) -> None:
    _round_trip(postgres_url)


@pytest.mark.parametrize("stream", [True, False])
def test_the_stream_flag_reads_back_as_a_bool(tmp_path: Path, stream: bool) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ledger.writer.backend().write([UsageRecord(1.0, "p", "m", stream=stream, uid="s")])
    (row,) = ledger.fetch()
    ledger.close()
    assert row.stream is stream


def test_a_big_batch_lands_whole_and_once(tmp_path: Path) -> None:
    """Rows go in many to a statement: a batch of several statements' worth, with a short
    last one, mixed NULL patterns, and uids repeated inside the batch and from an earlier
    one, reads back one row per uid, each as it went in."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'big.db'}")
    patterns = mixed_records()[:5]
    records = [UsageRecord(2000.0 + i, "p", "m", input_tokens=i, uid=f"b-{i}",
                           **{k: getattr(patterns[i % 5], k) for k in NULLABLE})
               for i in range(1_237)]
    try:
        backend = ledger.writer.backend()
        backend.write(records[:10])
        backend.write(records + records[500:520])  # 10 + 20 seen again: ignored
        got = ledger.fetch()
    finally:
        ledger.close()
    assert [r.uid for r in got] == [r.uid for r in records]
    assert got == records
