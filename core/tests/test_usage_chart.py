"""``plugbay usage --chart``: the date axis spans the data, and a bad path is one line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from plugbay.cli_usage import draw, parse_when
from plugbay.ledger import Ledger, UsageRecord

pytest.importorskip("matplotlib")

DAY = parse_when("2026-11-20T10:00")


def limits(records: list[UsageRecord]) -> tuple[dt.datetime, dt.datetime]:
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig = draw(records, "provider")
    try:
        low, high = fig.axes[0].get_xlim()
    finally:
        plt.close(fig)
    return mdates.num2date(low), mdates.num2date(high)


def test_one_day_spans_about_that_day() -> None:
    low, high = limits([UsageRecord(DAY, "openai", "m", cost=0.5),
                        UsageRecord(DAY + 600, "anthropic", "m", cost=0.2)])
    day = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    assert day - dt.timedelta(days=1) <= low <= day
    assert day <= high <= day + dt.timedelta(days=1)
    assert high - low <= dt.timedelta(days=1)


def test_a_week_spans_that_week() -> None:
    low, high = limits([UsageRecord(DAY + i * 86400, "openai", "m", cost=0.1)
                        for i in range(7)])
    assert dt.timedelta(days=6) <= high - low <= dt.timedelta(days=8)


def test_chart_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    ledger = Ledger(f"sqlite:///{db}")
    ledger.record(UsageRecord(DAY, "openai", "m", cost=0.5))
    ledger.flush()
    target = tmp_path / "no" / "such" / "cost.png"
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", "usage", "--ledger", str(db),
                           "--chart", str(target)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "does not exist" in proc.stderr and str(target.parent) in proc.stderr
