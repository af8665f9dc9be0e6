"""``Reconnecting``: a PostgreSQL connection that was really lost (its backend terminated,
as a server restart does) is replaced once and the work runs again; an SQL error, a
statement timeout or a connection closed on purpose is raised as is, run once; SQLite
is never retried."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from plugbay.cost.ledger.reconnect import Reconnecting


def terminate(url: str, pid: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_a_terminated_backend_is_replaced_once(postgres_url: str, autocommit: bool) -> None:
    import psycopg

    db = Reconnecting(lambda: psycopg.connect(postgres_url, autocommit=autocommit),
                      "postgres")
    first = db.run(lambda conn: conn.info.backend_pid)
    terminate(postgres_url, first)
    pids: list[int] = []

    def go(conn: Any) -> int:
        pids.append(conn.info.backend_pid)
        row = conn.execute("SELECT 41 + 1").fetchone()
        return int(row[0])
    assert db.run(go) == 42
    assert pids[0] == first and len(pids) == 2 and pids[1] != first
    assert db.run(go) == 42 and len(pids) == 3  # the new connection is kept
    db.close()


@pytest.mark.parametrize("sql, error", [
    ("SELECT * FROM no_such_table", "UndefinedTable"),
    ("SET statement_timeout = 20; SELECT pg_sleep(2)", "QueryCanceled"),  # Operational
])
def test_a_failed_statement_is_not_retried(postgres_url: str, sql: str, error: str) -> None:
    import psycopg

    db = Reconnecting(lambda: psycopg.connect(postgres_url, autocommit=True), "postgres")
    pids: list[int] = []

    def go(conn: Any) -> None:
        pids.append(conn.info.backend_pid)
        conn.execute(sql)
    with pytest.raises(psycopg.Error) as caught:
        db.run(go)
    assert type(caught.value).__name__ == error
    assert len(pids) == 1
    assert db.run(lambda conn: conn.info.backend_pid) == pids[0]  # the same connection
    db.close()


def test_a_connection_closed_on_purpose_is_not_reopened(postgres_url: str) -> None:
    import psycopg

    db = Reconnecting(lambda: psycopg.connect(postgres_url, autocommit=True), "postgres")
    db.close()
    with pytest.raises(psycopg.OperationalError):
        db.run(lambda conn: conn.execute("SELECT 1"))


def test_sqlite_is_never_retried(tmp_path: Path) -> None:
    opened: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        opened.append(sqlite3.connect(tmp_path / "x.db", check_same_thread=False))
        return opened[-1]
    db = Reconnecting(connect, "sqlite")
    with pytest.raises(sqlite3.OperationalError):
        db.run(lambda conn: conn.execute("SELECT * FROM no_such_table"))
    assert len(opened) == 1
    db.close()
