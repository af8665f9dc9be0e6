"""The keys table outlives a lost PostgreSQL connection (a server restart): the next
read or change runs on a new connection, and a change is made once. (That an SQL error
is not retried: ``ledger/test_ledger_reconnect.py``.)"""

from __future__ import annotations

from plugbay.gateway.keys.db import open_db
from plugbay.gateway.keys.record import VirtualKey

from .conftest import clean_postgres


def terminate_others(url: str) -> int:
    """End every other session on the database, as a restart would; how many."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


def test_a_lost_postgres_connection_is_replaced() -> None:
    url = clean_postgres()
    db = open_db(url)
    assert db.insert(VirtualKey(id="k1", hash="h1", created=1.0))
    version = db.version()
    assert terminate_others(url) >= 1
    got = db.get("k1")  # a read
    assert got is not None and got.hash == "h1"
    assert terminate_others(url) >= 1
    changed = db.update("k1", {"name": "renamed"})  # a change, in a transaction
    assert changed is not None and changed.name == "renamed"
    assert db.version() == version + 1  # bumped once: the change was made once
    assert terminate_others(url) >= 1
    assert db.insert(VirtualKey(id="k2", hash="h2", created=2.0))
    assert [k.id for k in db.list()] == ["k1", "k2"]
    db.close()

