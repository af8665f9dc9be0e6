"""The keys table in the ledger database (SQLite or PostgreSQL), reached synchronously.

Every statement is a constant with parameter marks; values never enter SQL text, so
metadata such as ``'; DROP TABLE calls; --`` is stored as written. Each change also
bumps ``plugbay_keys_version`` in the same transaction: the version other processes
watch to drop the keys they cached (``store.py``).

The tables have their own schema version (``plugbay_keys_schema``), migrated the way
the ledger's are (PostgreSQL under an advisory lock), so the keys never change the
ledger's own migrations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from plugbay.cost.ledger.reconnect import Reconnecting
from plugbay.errors import ConfigError
from plugbay.gateway.keys.record import VirtualKey

__all__ = ["KeyDB", "open_db"]

T = TypeVar("T")
_LOCK_ID = 7170014  # the ledger uses 7170001
_LATEST = 1

# field -> column; the only names that ever reach SQL text
_COLUMNS = {"id": "id", "hash": "hash", "created": "created", "updated": "updated",
            "name": "name", "budget": "budget", "period": "period", "rpm": "rpm",
            "tpm": "tpm", "models": "models", "expires": "expires", "revoked": "revoked",
            "team": "team", "user": "user_name", "metadata": "metadata"}
_SELECT = f"SELECT {', '.join(_COLUMNS.values())} FROM plugbay_keys"


def _schema(real: str, big: str) -> list[str]:
    return [f"""CREATE TABLE IF NOT EXISTS plugbay_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    created {real} NOT NULL,
    updated {real},
    name TEXT,
    budget {real},
    period TEXT NOT NULL DEFAULT 'total',
    rpm {big} NOT NULL DEFAULT 0,
    tpm {big} NOT NULL DEFAULT 0,
    models TEXT,
    expires {real},
    revoked {real},
    team TEXT,
    user_name TEXT,
    metadata TEXT
)""", "CREATE TABLE IF NOT EXISTS plugbay_keys_version (version BIGINT NOT NULL)",
            "DELETE FROM plugbay_keys_version",
            "INSERT INTO plugbay_keys_version (version) VALUES (1)"]


_MIGRATIONS = {1: {"sqlite": _schema("REAL", "INTEGER"),
                   "postgres": _schema("DOUBLE PRECISION", "BIGINT")}}


def _encode(field: str, value: Any) -> Any:
    if field == "models":
        return json.dumps(list(value)) if value is not None else None
    if field == "metadata":
        return json.dumps(value or {}, sort_keys=True)
    return value


def _row(row: tuple[Any, ...]) -> VirtualKey:
    data = dict(zip(_COLUMNS, row, strict=True))
    models = data.pop("models")
    metadata = data.pop("metadata")
    return VirtualKey(**data, models=tuple(json.loads(models)) if models is not None else None,
                      metadata=json.loads(metadata) if metadata else {})


class KeyDB:
    """One connection under a lock (calls come from worker threads)."""

    def __init__(self, connect: Callable[[], Any], dialect: str, url: str) -> None:
        self.url = url
        self.dialect = dialect
        self._mark = "?" if dialect == "sqlite" else "%s"
        self._db = Reconnecting(connect, dialect)
        self._db.run(self._migrate)

    def _migrate(self, conn: Any) -> None:
        cur = conn.cursor()
        if self.dialect == "postgres":
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            cur.execute("CREATE TABLE IF NOT EXISTS plugbay_keys_schema "
                        "(version INTEGER NOT NULL)")
            cur.execute("SELECT version FROM plugbay_keys_schema")
            row = cur.fetchone()
            current = int(row[0]) if row else 0
            if current > _LATEST:
                raise ConfigError(f"the keys tables have schema v{current}, newer than "
                                  f"this plugbay (v{_LATEST}); upgrade plugbay",
                                  key="ledger")
            for version in range(current + 1, _LATEST + 1):
                for statement in _MIGRATIONS[version][self.dialect]:
                    cur.execute(statement)
                cur.execute("DELETE FROM plugbay_keys_schema")
                cur.execute(f"INSERT INTO plugbay_keys_schema (version) VALUES "
                            f"({self._mark})", (version,))
            conn.commit()
        finally:
            if self.dialect == "postgres":
                cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
                conn.commit()

    def _run(self, fn: Callable[[Any], T]) -> T:
        """``fn(cursor)`` in one transaction, once more on a new connection when a
        PostgreSQL connection was lost."""
        return self._db.transaction(fn)

    def _bump(self, cur: Any) -> None:
        cur.execute("UPDATE plugbay_keys_version SET version = version + 1")

    # ------------------------------------------------------------ operations

    def insert(self, key: VirtualKey) -> bool:
        """Add ``key``; ``False`` if its id is taken (the caller draws another)."""
        m = self._mark
        values = [_encode(f, getattr(key, f)) for f in _COLUMNS]
        sql = (f"INSERT INTO plugbay_keys ({', '.join(_COLUMNS.values())}) VALUES "
               f"({', '.join(m for _ in _COLUMNS)}) ON CONFLICT (id) DO NOTHING")

        def go(cur: Any) -> bool:
            cur.execute(sql, values)
            added = bool(cur.rowcount)
            if added:
                self._bump(cur)
            return added
        return self._run(go)

    def get(self, key_id: str) -> VirtualKey | None:
        def go(cur: Any) -> VirtualKey | None:
            cur.execute(f"{_SELECT} WHERE id = {self._mark}", (key_id,))
            row = cur.fetchone()
            return _row(tuple(row)) if row else None
        return self._run(go)

    def list(self, *, revoked: bool = False) -> list[VirtualKey]:
        sql = _SELECT + ("" if revoked else " WHERE revoked IS NULL") + " ORDER BY created, id"

        def go(cur: Any) -> list[VirtualKey]:
            cur.execute(sql)
            return [_row(tuple(r)) for r in cur.fetchall()]
        return self._run(go)

    def update(self, key_id: str, fields: Mapping[str, Any]) -> VirtualKey | None:
        """Set ``fields`` (names from ``record.FIELDS`` plus ``revoked``/``updated``);
        the key after, or ``None`` when there is no such key."""
        m = self._mark
        names = [f for f in fields if f in _COLUMNS and f not in ("id", "hash", "created")]
        if len(names) != len(fields):
            raise ValueError(f"cannot set {sorted(set(fields) - set(names))}")
        sets = ", ".join(f"{_COLUMNS[f]} = {m}" for f in names)
        values = [_encode(f, fields[f]) for f in names]

        def go(cur: Any) -> VirtualKey | None:
            if names:
                cur.execute(f"UPDATE plugbay_keys SET {sets} WHERE id = {m}", [*values, key_id])
                if not cur.rowcount:
                    return None
                self._bump(cur)
            cur.execute(f"{_SELECT} WHERE id = {m}", (key_id,))
            row = cur.fetchone()
            return _row(tuple(row)) if row else None
        return self._run(go)

    def version(self) -> int:
        def go(cur: Any) -> int:
            cur.execute("SELECT version FROM plugbay_keys_version")
            row = cur.fetchone()
            return int(row[0]) if row else 0
        return self._run(go)

    def close(self) -> None:
        self._db.close()


def open_db(url: str) -> KeyDB:
    """The keys tables in the database at ``url`` (``sqlite:///path`` or
    ``postgresql://...``, the ledger's URL), created on first use."""
    from plugbay.cost.ledger import check_url

    check_url(url)
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        import sqlite3
        from pathlib import Path

        from plugbay._files import private_file

        path = Path(url.partition(":///")[2] or url.partition("://")[2]).expanduser()
        private_file(path)

        def sqlite() -> Any:
            conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        return KeyDB(sqlite, "sqlite", url)
    import psycopg

    return KeyDB(lambda: psycopg.connect(url, connect_timeout=10), "postgres", url)
