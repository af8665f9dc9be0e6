"""The dashboard's reads on a 1,000,000-row ledger, on SQLite and on PostgreSQL: every
page's queries (``cost.ledger.report``, as ``plugbay.gateway.ui`` makes them) and
``plugbay usage``, each timed after the hourly sums are up to date. The goal is at most
300 ms each; the figures are in docs/performance.md ("Dashboard on a 1M-row ledger").

    python bench/ledger_1m.py --sqlite "$(mktemp -d)/l1m.db"
    python bench/ledger_1m.py --postgres postgresql://user:pw@127.0.0.1/db  # drops `calls`

Rows: 30 days (every dashboard range reads all of them), 6 models, 50 keys (and one key
with 10 calls), 3 agents, 2% errors, a third each cache hit/miss/none.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core" / "src"))

from plugbay.cost.ledger.records import COLUMNS  # noqa: E402

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4"),
          ("anthropic", "claude-haiku"), ("gemini", "gemini-2.0-flash"),
          ("mistral", "mistral-large")]
KEYS = [f"k{i:03d}" for i in range(50)]
AGENTS = ["triage", "writer", "coder", None]
SPAN = 30 * 86400


def rows(n: int, now: float) -> Any:
    rnd = random.Random(1)
    for i in range(n):
        provider, model = rnd.choice(MODELS)
        tags = {"key": "rare" if i % 100_000 == 7 else rnd.choice(KEYS),
                "team": rnd.choice("abc")}
        agent = rnd.choice(AGENTS)
        if agent:
            tags["agent"] = agent
        ok = rnd.random() > 0.02
        yield (now - SPAN + SPAN * i / n, None, provider, model, 100, 50, 0, 0, 0,
               0.001 if ok else None, "USD", rnd.lognormvariate(-0.5, 0.8), None,
               "ok" if ok else "error", None if ok else "RateLimitError", 0,
               json.dumps(tags, sort_keys=True), None, None, None,
               rnd.choice([None, "hit", "miss"]), None, f"u{i}")


def fill(url: str, n: int, now: float) -> float:
    """Drop and regenerate the ledger; seconds taken."""
    from plugbay.cost.ledger import open_backend

    started = time.perf_counter()
    if url.startswith("sqlite"):
        path = Path(url.partition(":///")[2])
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        open_backend(url).close()
        import sqlite3

        conn = sqlite3.connect(path)
        sql = (f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES "
               f"({', '.join('?' for _ in COLUMNS)})")
        batch = []
        for row in rows(n, now):
            batch.append(row)
            if len(batch) == 50_000:
                conn.executemany(sql, batch)
                batch = []
        conn.executemany(sql, batch)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for t in ("calls", "plugbay_schema", "calls_hourly", "calls_rollup"):
                conn.execute(f"DROP TABLE IF EXISTS {t}")
        open_backend(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            with conn.cursor().copy(f"COPY calls ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                for row in rows(n, now):
                    cp.write_row([bool(v) if c == "stream" else v
                                  for c, v in zip(COLUMNS, row, strict=True)])
            conn.execute("VACUUM ANALYZE calls")
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and worst of ``repeat`` runs, in ms."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def pages(url: str, now: float) -> dict[str, Callable[[], Any]]:
    """Each page's reads, as the dashboard makes them."""
    from plugbay.cost.ledger.report import Report
    from plugbay.gateway.ui.pages import periods

    report = Report(url, clock=lambda: now)
    starts = periods(now)
    month = starts["this month"]

    def overview() -> None:
        for since in starts.values():
            report.usage("all", since, latency=False)
        report.latency(now - 3600)
        report.usage("model", month, latency=False)
        report.usage("key", month, latency=False)

    def spend(dim: str) -> Callable[[], Any]:
        return lambda: report.usage(dim, now - 30 * 86400, now, "day", latency=False)

    return {
        "overview": overview,
        "spend by provider, per day, 30 days": spend("provider"),
        "spend by model, per day, 30 days": spend("model"),
        "spend by key, per day, 30 days": spend("key"),
        "spend by agent, per day, 30 days": spend("agent"),
        "spend by tag:team, per day, 30 days": spend("tag:team"),
        "spend, per hour, 7 days": lambda: report.usage("all", now - 7 * 86400, now, "hour",
                                                        latency=False),
        "keys (spend per key this month)": lambda: report.usage("tag:key", month,
                                                                latency=False),
        "routes (last 500 calls, errors 24 h)": lambda: (report.last_calls(500),
                                                         report.errors(now - 86400)),
        "calls, newest 50": lambda: report.calls(limit=50),
        "calls, one key": lambda: report.calls(key="k007", limit=50),
        "calls, a key with 10 calls in 30 days": lambda: report.calls(key="rare", limit=50),
        "calls, one model": lambda: report.calls(model="openai/gpt-4o", limit=50),
        "calls, failed only": lambda: report.calls(status="failed", limit=50),
        "_report": lambda: report,
    }


def usage_cli(url: str, by: str) -> Callable[[], Any]:
    from plugbay import cli

    def run() -> None:
        code = cli.main(["usage", "--ledger", url, "--by", by, "--since", "30d", "--json"],
                        out=io.StringIO())
        assert code == 0
    return run


def writer_cost(folder: Path) -> None:
    """CPU per row of the ledger writer's inserts (batches of 500 into 200,000 rows), on
    schema v3 and on v4: what the dashboard's schema costs every call."""
    import plugbay.cost.ledger.sqlite as backend
    from plugbay.cost.ledger.migrations import LATEST

    def batch(k: int, n: int) -> list[tuple[Any, ...]]:  # calls as they end: ts rising
        start = time.time() + k
        return [(start + i / n, *row[1:-1], f"w{k}-{i}")
                for i, row in enumerate(rows(n, time.time()))]

    migrate = backend.migrate
    for version in (3, LATEST):
        path = folder / f"writer-v{version}.db"
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        backend.migrate = lambda conn, dialect, v=version: migrate(conn, dialect, v)
        try:
            db = backend.SQLiteBackend(path)
        finally:
            backend.migrate = migrate
        for k in range(20):
            db.write_rows(batch(k, 10_000))
        batches = [batch(100 + k, 500) for k in range(200)]
        cpu = time.process_time()
        for b in batches:
            db.write_rows(b)
        per_row = (time.process_time() - cpu) / 100_000 * 1e6
        print(f"- ledger writer, schema v{version}: {per_row:.2f} us CPU per row")
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sqlite", help="a path for the SQLite ledger")
    ap.add_argument("--postgres", help="a PostgreSQL URL (its ledger tables are dropped)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    now = time.time()
    urls = ([f"sqlite:///{Path(args.sqlite).resolve()}"] if args.sqlite else []) + (
        [args.postgres] if args.postgres else [])
    if args.sqlite:
        writer_cost(Path(args.sqlite).resolve().parent)
    for url in urls:
        kind = url.partition("://")[0]
        print(f"## {kind}: {args.rows:,} rows")
        print(f"- generated in {fill(url, args.rows, now):.1f} s")
        reads = pages(url, now)
        report = reads.pop("_report")()
        t0 = time.perf_counter()
        report.refresh(force=True)
        print(f"- first hourly sums of the whole ledger (once): "
              f"{time.perf_counter() - t0:.1f} s")
        for by in ("day", "model", "key", "tag:agent"):
            reads[f"plugbay usage --by {by} --since 30d"] = usage_cli(url, by)
        print("\n| read | median ms | worst ms | <= 300 ms |\n|---|---:|---:|---|")
        for name, fn in reads.items():
            med, worst = timed(fn, args.repeat)
            print(f"| {name} | {med:.1f} | {worst:.1f} | "
                  f"{'PASS' if worst <= 300 else '**MISS**'} |")
        report.close()
        print()


if __name__ == "__main__":
    main()
