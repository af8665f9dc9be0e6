"""The embedded ledger: one SQLite file in WAL mode, created on first use."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plugbay._files import private_file
from plugbay.cost.ledger.migrations import migrate
from plugbay.cost.ledger.records import COLUMNS, UsageRecord, by_nulls

__all__ = ["SQLiteBackend"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM calls"
_ROWS_PER_INSERT = 256  # a power of two


class SQLiteBackend:
    """WAL lets reports read while the writer thread appends."""

    def __init__(self, path: str | Path, *, private_dir: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        private_file(self.path, private_dir=private_dir)  # it may hold prompts
        self._lock = threading.Lock()
        self._conn = self._connect()
        # the ? a statement may hold: 32766 since SQLite 3.32, 999 before (3.10 cannot ask)
        self._max_variables = 999
        if sys.version_info >= (3, 11):
            self._max_variables = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        migrate(self._conn, "sqlite")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                               isolation_level="DEFERRED")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.write_rows([r.row() for r in records])

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Many rows to an ``INSERT``: the driver lets go of the GIL once per statement, and
        ``executemany`` makes that once per row, so the caller's thread and this one handed
        the GIL back and forth per row (measured at 64 calls in flight: 13-17 us of this
        thread's CPU per row, against 5-6). Statements hold a power of two of rows, so
        the driver's statement cache keeps a few sizes, not one per batch length (each
        cached size holds memory: ~25 MB for one per length)."""
        with self._lock:
            for sql, group in by_nulls(rows, "?", " OR IGNORE"):
                size = _ROWS_PER_INSERT
                while size > 1 and size * len(group[0]) > self._max_variables:
                    size //= 2
                at = 0
                while at < len(group):
                    while size > len(group) - at:
                        size //= 2
                    chunk = group[at:at + size]
                    self._conn.execute(_many(sql, size), [v for row in chunk for v in row])
                    at += size
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

    def spent(self, since: float, kind: str, match: str | None) -> float:
        sql, args = scope_sum(kind, match, since, "?")
        with self._lock:
            return float(self._conn.execute(sql, args).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def scope_sum(kind: str, match: str | None, since: float, mark: str,
              ) -> tuple[str, list[Any]]:
    """``SELECT SUM(cost)`` of a budget scope since ``since`` (``mark``: ``?`` or ``%s``).

    Tags are stored as JSON with sorted keys and ``": "`` separators, so a tag scope is a
    substring match on the encoded ``"key": "value"`` pair (quotes inside are escaped,
    so the match cannot straddle two pairs)."""
    where: list[str] = [f"ts >= {mark}"]
    args: list[Any] = [since]
    if kind == "provider":
        where.append(f"provider = {mark}")
        args.append(match)
    elif kind == "model":
        provider, _, model = (match or "").partition("/")
        where += [f"provider = {mark}", f"model = {mark}"]
        args += [provider, model]
    elif kind == "route":
        where.append(f"route = {mark}")
        args.append(match)
    elif kind == "tag":
        key, _, value = (match or "").partition("=")
        pair = json.dumps({key: value})[1:-1]
        escaped = pair.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(f"tags LIKE {mark} ESCAPE '\\'")
        args.append(f"%{escaped}%")
    return f"SELECT COALESCE(SUM(cost), 0) FROM calls WHERE {' AND '.join(where)}", args


@functools.lru_cache(maxsize=64)
def _many(sql: str, rows: int) -> str:
    """The one-row ``INSERT`` ``sql`` made to take ``rows`` rows (built once per size)."""
    head, _, one = sql.partition(" VALUES ")
    return f"{head} VALUES {','.join([one] * rows)}"


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
