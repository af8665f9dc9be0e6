"""The PostgreSQL ledger backend (``pip install 'plugbay[postgres]'``: psycopg 3).

Many processes may write to one database; the schema is migrated under an advisory
lock so that two starting processes do not race.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plugbay.cost.ledger.migrations import migrate
from plugbay.cost.ledger.reconnect import Reconnecting
from plugbay.cost.ledger.records import COLUMNS, UsageRecord
from plugbay.cost.ledger.sqlite import _range, scope_sum

__all__ = ["PostgresBackend"]

# rows carry the stream flag as 0/1 (cheap for SQLite); the column here is BOOLEAN
_INSERT = (f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES "
           f"({', '.join('%s::int::boolean' if c == 'stream' else '%s' for c in COLUMNS)}) "
           "ON CONFLICT (uid) DO NOTHING")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM calls"
_LOCK_ID = 7170001


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        from plugbay.errors import ConfigError

        raise ConfigError("the postgres ledger needs psycopg: pip install 'plugbay[postgres]'",
                          key="ledger.url") from None
    return psycopg


class PostgresBackend:
    """Every read and write is one transaction on a ``Reconnecting`` connection: a lost
    connection (a server restart) is replaced once, a failed statement is rolled back.
    A write may run twice that way; rows are keyed by ``uid``, so it lands once."""

    def __init__(self, url: str) -> None:
        self.url = url
        psycopg = _psycopg()
        self._db = Reconnecting(lambda: psycopg.connect(url, connect_timeout=10), "postgres")
        self._db.run(_migrate)

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.write_rows([r.row() for r in records])

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._db.transaction(lambda cur: cur.executemany(_INSERT, rows))

    def fetch(self, since: float | None = None, until: float | None = None,
              ) -> list[UsageRecord]:
        sql, args = _range(_SELECT, since, until, "%s")
        rows = self._db.transaction(lambda cur: cur.execute(sql + " ORDER BY ts, id",
                                                            args).fetchall())
        return [UsageRecord.from_row(r) for r in rows]

    def count(self) -> int:
        row = self._db.transaction(lambda cur: cur.execute("SELECT COUNT(*) FROM calls")
                                   .fetchone())
        return int(row[0]) if row else 0

    def spent(self, since: float, kind: str, match: str | None) -> float:
        sql, args = scope_sum(kind, match, since, "%s")
        row = self._db.transaction(lambda cur: cur.execute(sql, args).fetchone())
        return float(row[0]) if row else 0.0  # scope_sum's SUM is COALESCEd

    def close(self) -> None:
        self._db.close()


def _migrate(conn: Any) -> None:
    """The schema, migrated under an advisory lock (two starting processes wait in turn)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        migrate(conn, "postgres")
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
        conn.commit()
