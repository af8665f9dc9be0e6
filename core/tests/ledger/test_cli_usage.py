"""``plugbay usage`` (table, --csv, --json, --since/--until, --by, --chart) and
``plugbay budget``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from plugbay import cli
from plugbay.cli_usage import aggregate, parse_when
from plugbay.cost.ledger import Ledger, UsageRecord

DAY1 = parse_when("2026-11-20T10:00")
DAY2 = parse_when("2026-11-21T10:00")


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "l.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.record(UsageRecord(DAY1, "openai", "gpt-4o", input_tokens=100, output_tokens=10,
                              cost=0.5, latency=1.0, tags={"agent": "a"}))
    ledger.record(UsageRecord(DAY1 + 60, "anthropic", "claude", input_tokens=200,
                              output_tokens=20, cost=1.25, latency=2.0, route="smart"))
    ledger.record(UsageRecord(DAY2, "openai", "gpt-4o", input_tokens=50, output_tokens=5,
                              cost=0.25, latency=0.5, tags={"agent": "b"}))
    ledger.record(UsageRecord(DAY2 + 1, "openai", "gpt-4o", status="error",
                              error="RateLimitError", latency=0.1))
    ledger.record(UsageRecord(DAY2 + 2, "local", "llama", input_tokens=7, output_tokens=7))
    ledger.flush()
    return path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(list(argv), out=out)
    return code, out.getvalue()


def test_usage_table_by_day(ledger_path: Path) -> None:
    code, text = run("usage", "--ledger", str(ledger_path))
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["DAY", "CALLS", "ERRORS"]
    assert lines[1].split()[:3] == ["2026-11-20", "2", "0"] and "1.750000" in lines[1]
    assert lines[2].split()[:3] == ["2026-11-21", "3", "1"]
    assert "(+1 unpriced)" in lines[2]  # unknown cost is shown as unknown, not as 0
    assert lines[-1].startswith("TOTAL") and "2.000000" in lines[-1]


def test_usage_csv_by_provider_with_range(ledger_path: Path) -> None:
    code, text = run("usage", "--ledger", str(ledger_path), "--by", "provider", "--csv",
                     "--since", "2026-11-21", "--until", "2026-11-22")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["key"], r["calls"], r["errors"]) for r in rows] == [("local", "1", "0"),
                                                                   ("openai", "2", "1")]
    assert float(rows[1]["cost"]) == 0.25


def test_usage_json_by_tag_and_route(ledger_path: Path) -> None:
    code, text = run("usage", "--ledger", str(ledger_path), "--by", "tag:agent", "--json")
    assert code == 0
    assert {r["key"]: r["calls"] for r in json.loads(text)} == {"-": 3, "a": 1, "b": 1}
    code, text = run("usage", "--ledger", str(ledger_path), "--by", "route", "--json")
    assert {r["key"]: r["cost"] for r in json.loads(text)} == {"-": 0.75, "smart": 1.25}


def test_usage_chart(ledger_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "cost.png"
    code, text = run("usage", "--ledger", str(ledger_path), "--by", "provider", "--chart",
                     str(png))
    assert code == 0 and "wrote" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_options_exit_2(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("usage", "--ledger", str(ledger_path), "--by", "colour")[0] == 2
    assert "cannot group by" in capsys.readouterr().err
    assert run("usage", "--ledger", str(ledger_path), "--since", "yesterday")[0] == 2


def test_aggregate_and_relative_dates() -> None:
    now = 1_800_000_000.0
    assert parse_when("7d", now=now) == now - 7 * 86400
    assert parse_when("12h", now=now) == now - 12 * 3600
    rows = aggregate([UsageRecord(now, "p", "m", cost=1.0, latency=3.0),
                      UsageRecord(now, "p", "m", cost=None, latency=1.0)], "model")
    assert rows[0]["calls"] == 2 and rows[0]["cost"] == 1.0 and rows[0]["unpriced"] == 1


def test_budget_command(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    ledger = Ledger(f"sqlite:///{db}")
    import time

    ledger.record(UsageRecord(time.time(), "openai", "gpt-4o", cost=0.3))
    ledger.flush()
    config = tmp_path / "plugbay.toml"
    config.write_text(f"""
[ledger]
path = "{db}"

[budgets.daily]
scope = "provider:openai"
limit = 1.0

[budgets.month]
period = "monthly"
limit = 10
mode = "soft"
""")
    code, text = run("--config", str(config), "budget")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["BUDGET", "SCOPE", "PERIOD", "MODE", "SPENT", "LIMIT", "USED"]
    assert lines[1].split()[0:2] == ["daily", "provider:openai"] and lines[1].endswith("30%")
    assert lines[2].split()[3] == "soft" and lines[2].endswith("3%")
    code, text = run("--config", str(config), "budget", "--json")
    assert [b["name"] for b in json.loads(text)] == ["daily", "month"]


def test_reading_a_ledger_that_is_not_there_creates_nothing(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            ) -> None:
    typo = tmp_path / "no" / "such" / "ledgr.db"
    code, _ = run("usage", "--ledger", str(typo))
    assert code == 2
    assert f"no ledger at {typo}" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_the_ledger_is_private_to_its_user(tmp_path: Path) -> None:
    """It can hold prompts: the folder plugbay makes is 0700 and the database 0600."""
    import stat

    path = tmp_path / "data" / "plugbay" / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.record(UsageRecord(DAY1, "openai", "gpt-4o", prompt="secret plans"))
    ledger.flush()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
