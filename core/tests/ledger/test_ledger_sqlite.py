"""The embedded SQLite ledger: one row per call (complete, stream, routed, failed), tags,
opt-in text, WAL mode, migrations that keep old rows, and nothing lost at exit."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import plugbay
from plugbay import errors
from plugbay.cost.ledger import Ledger, LedgerSettings, UsageRecord, default_path
from plugbay.cost.ledger.migrations import LATEST, MIGRATIONS
from plugbay.testing.server import FakeServer, Reply

from .conftest import chat, make, ok, sse_ok

pytestmark = pytest.mark.timeout(60)


def rows(db: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM calls ORDER BY id").fetchall()
    finally:
        conn.close()


def test_complete_and_stream_are_recorded_with_cost_and_tags(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok(usage={"input": 1000, "output": 200}))
    with make(srv, db) as client:
        c = client.complete("openai/gpt-4o-mini", "hi", tags={"agent": "pricing", "user": "u1"})
        srv.add("POST", chat(), sse_ok(["a", "b"], usage={"input": 10, "output": 2}))
        with client.stream("openai/gpt-4o-mini", "hi", metadata={"project": "p9"}) as s:
            assert "".join(e.text for e in s if e.type == "text") == "ab"
    got = rows(db)
    assert len(got) == 2
    first, second = got
    assert first["provider"] == "openai" and first["model"] == "gpt-4o-mini"
    assert (first["input_tokens"], first["output_tokens"]) == (1000, 200)
    assert first["cost"] == pytest.approx(c.cost.total)  # type: ignore[union-attr]
    assert first["status"] == "ok" and first["error"] is None and first["stream"] == 0
    assert first["latency"] > 0 and first["ts"] > 1.7e9
    assert first["tags"] == '{"agent": "pricing", "user": "u1"}'
    assert first["prompt"] is None and first["response"] is None  # not recorded by default
    assert second["stream"] == 1 and second["ttft"] is not None and second["ttft"] > 0
    assert second["tags"] == '{"project": "p9"}'
    assert (second["input_tokens"], second["output_tokens"]) == (10, 2)
    # tags are ours: never sent to the provider
    assert "tags" not in srv.requests[0].json()


def test_failed_and_cancelled_calls_are_recorded(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), Reply.json({"error": {"message": "no", "type": "x"}}, status=401))
    with make(srv, db) as client:
        with pytest.raises(errors.AuthenticationError):
            client.complete("openai/gpt-4o-mini", "hi")
        srv.add("POST", chat(), sse_ok(["a", "b", "c"]))
        with client.stream("openai/gpt-4o-mini", "hi") as s:
            next(iter(s))  # the caller stops early: recorded as cancelled
        srv.add("POST", chat(), Reply.sse([WIRE_CHUNK]))  # no finish: a broken stream
        with pytest.raises(errors.StreamError), client.stream("openai/gpt-4o-mini", "x") as s:
            for _ in s:
                pass
    got = rows(db)
    assert [(r["status"], r["error"]) for r in got] == [
        ("error", "AuthenticationError"), ("cancelled", None), ("error", "StreamError")]
    assert got[0]["cost"] is None


WIRE_CHUNK = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
              "choices": [{"index": 0, "delta": {"content": "part"}, "finish_reason": None}]}


def test_routed_calls_record_route_and_chosen_target(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat("a"), Reply.json({"error": {"message": "down"}}, status=503))
    srv.add("POST", chat("b"), ok(model="m"))
    routes = {"smart": {"strategy": "priority", "targets": ["a/gpt-4o-mini", "b/gpt-4o-mini"],
                        "max_attempts": 2}}
    with make(srv, db, providers=("a", "b"), routes=routes) as client:
        client.complete("smart", "hi", tags={"agent": "x"})
        srv.add("POST", chat("a"), sse_ok(["x"]))
        client.stream("smart", "hi").get_completion()
    got = rows(db)
    assert [(r["route"], r["provider"], r["status"], r["stream"]) for r in got] == [
        ("smart", "a", "error", 0), ("smart", "b", "ok", 0), ("smart", "a", "ok", 1)]
    assert got[1]["tags"] == '{"agent": "x"}'


def test_record_text_is_opt_in(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok("the answer"))
    with make(srv, db, ledger={"record_text": True}) as client:
        client.complete("openai/gpt-4o-mini", "the question")
    (row,) = rows(db)
    assert row["prompt"] == "user: the question" and row["response"] == "the answer"


def test_wal_mode_and_created_on_first_use(srv: FakeServer, tmp_path: Path) -> None:
    db = tmp_path / "deep" / "dir" / "ledger.db"
    srv.add("POST", chat(), ok())
    client = make(srv, db)
    assert not db.exists()  # nothing until the first call
    client.complete("openai/gpt-4o-mini", "hi")
    client.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM plugbay_schema").fetchone()[0] == LATEST


def test_settings_default_path_off_and_env_override(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    s = LedgerSettings.from_config(None, env)
    assert s.url == f"sqlite:///{default_path(env)}"
    assert str(default_path(env)).startswith(str(tmp_path))
    assert LedgerSettings.from_config({"path": "off"}, env).url is None
    assert LedgerSettings.from_config({}, {**env, "PLUGBAY_LEDGER": "off"}).url is None
    assert LedgerSettings.from_config({"url": "postgresql://h/db"}, env).url == "postgresql://h/db"
    with pytest.raises(errors.ConfigError, match="ledger"):
        LedgerSettings.from_config({"paht": "x"}, env)


def test_ledger_off_records_nothing_but_stats_work(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok())
    with make(srv, None) as client:
        client.complete("openai/gpt-4o-mini", "hi")
        assert client.ledger is None
        assert client.stats()["openai"].requests == 1


def test_migration_from_v1_keeps_old_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE plugbay_schema (version INTEGER NOT NULL)")
    for statement in MIGRATIONS[1]["sqlite"]:
        conn.execute(statement)
    conn.execute("INSERT INTO plugbay_schema VALUES (1)")
    conn.executemany(
        "INSERT INTO calls (ts, route, provider, model, input_tokens, output_tokens, "
        "cached_tokens, reasoning_tokens, cost, latency, status, error) "
        "VALUES (?, NULL, ?, ?, ?, ?, 0, 0, ?, 0.5, 'ok', NULL)",
        [(1.7e9 + i, "openai", "gpt-4o", 100 + i, 10, 0.001 * i) for i in range(5)])
    conn.commit()
    conn.close()
    ledger = Ledger(f"sqlite:///{db}")
    old = ledger.fetch()
    assert [r.input_tokens for r in old] == [100, 101, 102, 103, 104]
    assert old[3].cost == pytest.approx(0.003) and old[0].cache_write_tokens == 0
    assert old[0].tags is None and old[0].currency == "USD"
    ledger.record(UsageRecord(ts=1.8e9, provider="anthropic", model="claude", cost=0.5,
                              tags={"agent": "a"}, ttft=0.1, stream=True))
    assert ledger.count() == 6
    new = ledger.fetch(since=1.75e9)
    assert len(new) == 1 and new[0].tags == {"agent": "a"} and new[0].stream
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM plugbay_schema").fetchone()[0] == LATEST
    ledger.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE plugbay_schema (version INTEGER NOT NULL)")
    conn.execute(f"INSERT INTO plugbay_schema VALUES ({LATEST + 1})")
    conn.commit()
    conn.close()
    from plugbay.cost.ledger.sqlite import SQLiteBackend

    with pytest.raises(errors.ConfigError, match="newer"):
        SQLiteBackend(db)


@pytest.mark.timeout(120)
def test_pending_records_are_flushed_at_exit(srv: FakeServer, tmp_path: Path) -> None:
    """A process that exits right after its calls (no close) loses no record."""
    db = tmp_path / "exit.db"
    srv.add("POST", chat(), ok())
    script = textwrap.dedent(f"""
        import asyncio, plugbay
        cfg = {{"providers": {{"openai": {{"api_key": "sk-test-0123456789abcdef",
                "base_url": "{srv.url}/openai/v1"}}}}, "ledger": {{"path": {str(db)!r},
                "batch": 7}}}}
        client = plugbay.Client(cfg, env={{}})
        async def main():
            await asyncio.gather(*(client.acomplete("openai/gpt-4o-mini", "hi")
                                   for _ in range(300)))
        asyncio.run(main())
        # no close, no flush: exit at once
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=100)
    assert Ledger(f"sqlite:///{db}").count() == 300


def test_many_clients_share_one_writer(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok())
    clients = [make(srv, db) for _ in range(3)]
    for c in clients:
        c.complete("openai/gpt-4o-mini", "hi")
    assert clients[0].ledger is not None
    assert clients[0].ledger.writer is clients[2].ledger.writer  # type: ignore[union-attr]
    for c in clients:
        c.close()
    assert len(rows(db)) == 3


def test_client_ledger_is_public_api(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok())
    with plugbay.Client({"providers": {"openai": {"api_key": "sk-test-0123456789abcdef",
                                                  "base_url": f"{srv.url}/openai/v1"}},
                         "ledger": {"path": str(db)}}, env={}) as client:
        client.complete("openai/gpt-4o-mini", "hi")
        assert client.ledger is not None
        (rec,) = client.ledger.fetch()
        assert rec.provider == "openai" and rec.cost is not None


def test_writer_keeps_up_with_a_burst(tmp_path: Path) -> None:
    """Full batches are written back to back (no gathering pause while a backlog exists)."""
    import time

    ledger = Ledger(f"sqlite:///{tmp_path / 'burst.db'}", batch=500)
    t0 = time.perf_counter()
    for i in range(20_000):
        ledger.record(UsageRecord(ts=1.8e9 + i, provider="p", model="m", cost=0.001))
    assert ledger.count() == 20_000
    assert time.perf_counter() - t0 < 10
    ledger.close()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_writes_its_own_records(srv: FakeServer, db: Path) -> None:
    import multiprocessing

    srv.add("POST", chat(), ok())
    client = make(srv, db)
    client.complete("openai/gpt-4o-mini", "parent")  # the writer thread runs in the parent

    def child() -> None:
        c = make(srv, db)
        for _ in range(5):
            c.complete("openai/gpt-4o-mini", "child")
        c.close()  # multiprocessing skips atexit in the child: close flushes

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    client.close()
    assert len(rows(db)) == 6


def test_routed_stream_that_tried_no_target_writes_no_row(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat("a"), Reply.json({"error": {"message": "down"}}, status=503))
    routes = {"r": {"strategy": "priority", "targets": ["a/gpt-4o-mini"], "max_attempts": 1}}
    with make(srv, db, providers=("a",), routes=routes,
              routing={"breaker": {"threshold": 1, "cooldown": 60}}) as client:
        with pytest.raises(errors.APIError):
            client.stream("r", "hi").get_completion()  # tried a: one error row
        with pytest.raises(errors.OverloadedError, match="circuit"):
            client.stream("r", "hi").get_completion()  # every circuit open: nothing sent
    got = rows(db)
    assert [(r["route"], r["provider"], r["status"]) for r in got] == [("r", "a", "error")]


def test_bad_ledger_url_fails_at_the_first_call(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok())
    client = make(srv, None, ledger={"path": None, "url": "mysql://h/db"})
    with pytest.raises(errors.ConfigError, match="unsupported ledger URL scheme"):
        client.complete("openai/gpt-4o-mini", "hi")
    client.close()
