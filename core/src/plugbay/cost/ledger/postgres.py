"""The PostgreSQL ledger backend (``pip install 'plugbay[postgres]'``: psycopg 3).

Many processes may write to one database; the schema is migrated under an advisory
lock so that two starting processes do not race.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from plugbay.cost.ledger.migrations import migrate
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
    def __init__(self, url: str) -> None:
        self.url = url
        self._psycopg = _psycopg()
        self._lock = threading.Lock()
        self._conn = self._psycopg.connect(url, connect_timeout=10)
        with self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            migrate(self._conn, "postgres")
        finally:
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
            self._conn.commit()

    def _reconnect(self) -> None:
        try:
            self._conn.close()
        except Exception:
            pass
        self._conn = self._psycopg.connect(self.url, connect_timeout=10)

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.write_rows([r.row() for r in records])

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._lock:
            if self._conn.closed:
                self._reconnect()
            try:
                with self._conn.cursor() as cur:
                    cur.executemany(_INSERT, rows)
                self._conn.commit()
            except self._psycopg.OperationalError:
                self._reconnect()  # one retry on a fresh connection (server restarted)
                with self._conn.cursor() as cur:
                    cur.executemany(_INSERT, rows)
                self._conn.commit()

    def fetch(self, since: float | None = None, until: float | None = None,
              ) -> list[UsageRecord]:
        sql, args = _range(_SELECT, since, until, "%s")
        with self._lock:
            if self._conn.closed:
                self._reconnect()
            with self._conn.cursor() as cur:
                cur.execute(sql + " ORDER BY ts, id", args)
                rows = cur.fetchall()
            self._conn.commit()
        return [UsageRecord.from_row(r) for r in rows]

    def count(self) -> int:
        with self._lock, self._conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM calls")
            row = cur.fetchone()
            self._conn.commit()
        return int(row[0]) if row else 0

    def spent(self, since: float, kind: str, match: str | None) -> float:
        sql, args = scope_sum(kind, match, since, "%s")
        with self._lock, self._conn.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
            self._conn.commit()
        return float(row[0]) if row else 0.0

    def close(self) -> None:
        with self._lock:
            self._conn.close()
