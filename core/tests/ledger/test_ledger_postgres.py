"""The PostgreSQL ledger against the real server .ci/services starts (skipped when it is
not reachable, failing under CI=true)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from plugbay.cost.ledger import Ledger, UsageRecord
from plugbay.cost.ledger.migrations import LATEST, MIGRATIONS
from plugbay.testing.server import FakeServer

from .conftest import chat, make, ok, sse_ok

pytestmark = pytest.mark.timeout(90)


def test_calls_are_recorded_in_postgres(srv: FakeServer, postgres_url: str) -> None:
    srv.add("POST", chat(), ok(usage={"input": 1000, "output": 200}))
    with make(srv, None, ledger={"path": None, "url": postgres_url}) as client:
        c = client.complete("openai/gpt-4o-mini", "hi", tags={"agent": "pg"})
        srv.add("POST", chat(), sse_ok(["a"]))
        client.stream("openai/gpt-4o-mini", "hi").get_completion()
        assert client.ledger is not None
        recs = client.ledger.fetch()
    assert [(r.provider, r.stream, r.status) for r in recs] == [("openai", False, "ok"),
                                                                ("openai", True, "ok")]
    assert recs[0].cost == pytest.approx(c.cost.total)  # type: ignore[union-attr]
    assert recs[0].tags == {"agent": "pg"} and recs[1].ttft is not None


def test_postgres_migration_from_v1_keeps_old_rows(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE plugbay_schema (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[1]["postgres"]:
            conn.execute(statement)
        conn.execute("INSERT INTO plugbay_schema VALUES (1)")
        for i in range(4):
            conn.execute("INSERT INTO calls (ts, provider, model, input_tokens, output_tokens, "
                         "cost, latency, status) VALUES (%s, 'openai', 'gpt-4o', %s, 5, %s, "
                         "0.2, 'ok')", (1.7e9 + i, 10 * i, 0.01 * i))
    ledger = Ledger(postgres_url)
    ledger.record(UsageRecord(ts=1.8e9, provider="x", model="y", tags={"k": "v"}))
    recs = ledger.fetch()
    assert [r.input_tokens for r in recs[:4]] == [0, 10, 20, 30]
    assert recs[2].cost == pytest.approx(0.02) and recs[0].currency == "USD"
    assert recs[4].tags == {"k": "v"}
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM plugbay_schema").fetchone() == (LATEST,)
    ledger.close()


def test_postgres_flush_at_exit_from_several_processes(srv: FakeServer,
                                                       postgres_url: str) -> None:
    srv.add("POST", chat(), ok())
    script = textwrap.dedent(f"""
        import asyncio, plugbay
        cfg = {{"providers": {{"openai": {{"api_key": "sk-test-0123456789abcdef",
                "base_url": "{srv.url}/openai/v1"}}}}, "ledger": {{"url": {postgres_url!r}}}}}
        client = plugbay.Client(cfg, env={{}})
        async def main():
            await asyncio.gather(*(client.acomplete("openai/gpt-4o-mini", "hi")
                                   for _ in range(50)))
        asyncio.run(main())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [p.wait(80) for p in procs] == [0, 0, 0]
    assert Ledger(postgres_url).count() == 150


def _terminate_ledger_connections(postgres_url: str) -> int:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a restart would
        return len(admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND application_name = ''",
        ).fetchall())


def test_the_backend_recovers_from_a_restart_and_a_bad_row(postgres_url: str) -> None:
    """Every read and write reconnects once after a lost connection (budgets read
    ``spent`` from here); a statement that fails rolls back, so the next one runs."""
    from plugbay.cost.ledger.postgres import PostgresBackend

    backend = PostgresBackend(postgres_url)
    backend.write([UsageRecord(1.8e9, "p", "m", cost=1.5)])
    for read, want in ((backend.count, 1), (lambda: backend.spent(0.0, "provider", "p"), 1.5),
                       (lambda: len(backend.fetch()), 1),
                       (lambda: backend.write([UsageRecord(1.8e9 + 1, "p", "m", cost=0.5)]),
                        None)):
        assert _terminate_ledger_connections(postgres_url) >= 1
        assert read() == want
    assert (backend.count(), backend.spent(0.0, "provider", "p")) == (2, 2.0)

    bad = UsageRecord(1.8e9 + 2, "p", "m", cost=0.25).row()
    bad = tuple("not a number" if i == 0 else v for i, v in enumerate(bad))  # ts
    with pytest.raises(Exception, match=r"(?i)invalid input|numeric|double"):
        backend.write_rows([bad])
    assert backend.count() == 2  # not "current transaction is aborted"
    backend.close()
