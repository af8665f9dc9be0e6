"""The embedded ledger: one SQLite file in WAL mode, created on first use."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from plugbay.ledger.migrations import migrate
from plugbay.ledger.records import COLUMNS, UsageRecord

__all__ = ["SQLiteBackend"]

_INSERT = (f"INSERT INTO calls ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in COLUMNS)})")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM calls"


class SQLiteBackend:
    """WAL lets reports read while the writer thread appends."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = self._connect()
        migrate(self._conn, "sqlite")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                               isolation_level="DEFERRED")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def write(self, records: Sequence[UsageRecord]) -> None:
        with self._lock:
            self._conn.executemany(_INSERT, [r.row() for r in records])
            self._conn.commit()

    def fetch(self, since: float | None = None, until: float | None = None,
              ) -> list[UsageRecord]:
        sql, args = _range(_SELECT, since, until, "?")
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts, id", args).fetchall()
        return [UsageRecord.from_row(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _range(sql: str, since: float | None, until: float | None, mark: str,
           ) -> tuple[str, list[float]]:
    where, args = [], []
    if since is not None:
        where.append(f"ts >= {mark}")
        args.append(since)
    if until is not None:
        where.append(f"ts < {mark}")
        args.append(until)
    return (sql + (" WHERE " + " AND ".join(where) if where else ""), args)
