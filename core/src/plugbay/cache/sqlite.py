"""The embedded cache store: one SQLite file in WAL mode, shared by every process on
the host (and the default once caching is switched on without a backend).

The file is created 0600, and a folder it has to create 0700: entries hold prompts and
answers. Reads run inline (a primary-key lookup in WAL mode never waits for a writer);
writes run in a worker thread, since another process's write can hold the lock for a
while. Expired rows are skipped on read and deleted at most once a minute on write.
The single-flight lock is a row of its own table, taken with an upsert.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from plugbay._files import private_file

__all__ = ["SQLiteStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
    "expires REAL)",
    "CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, token TEXT NOT NULL, "
    "expires REAL NOT NULL)",
)
_CLAIM = ("INSERT INTO locks (key, token, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO "
          "UPDATE SET token = excluded.token, expires = excluded.expires "
          "WHERE locks.expires <= ? OR locks.token = excluded.token")
_PRUNE_EVERY = 60.0  # seconds between sweeps of expired rows


class SQLiteStore:
    """``path`` is the database file; ``private_dir`` makes its folder 0700 even when it
    exists already (set for the default location, which is plugbay's own)."""

    shared = True

    def __init__(self, path: str | Path, *, private_dir: bool = False) -> None:
        self.path = Path(path).expanduser()
        private_file(self.path, private_dir=private_dir)
        self._read = self._connect()
        self._write = self._connect()
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pruned = 0.0
        with self._write_lock:
            for statement in _SCHEMA:
                self._write.execute(statement)
            self._write.commit()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False,
                               isolation_level=None)  # autocommit: one statement each
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # a cache may lose its last writes
        return conn

    async def get(self, key: str) -> bytes | None:
        with self._read_lock:
            row = self._read.execute("SELECT value, expires FROM entries WHERE key = ?",
                                     (key,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        value: bytes = row[0]
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        await asyncio.to_thread(self._set, key, value, ttl)

    def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        now = time.time()
        with self._write_lock:
            self._write.execute("INSERT OR REPLACE INTO entries (key, value, expires) "
                                "VALUES (?, ?, ?)", (key, value, None if ttl is None
                                                     else now + ttl))
            if now - self._pruned > _PRUNE_EVERY:
                self._pruned = now
                self._write.execute("DELETE FROM entries WHERE expires <= ?", (now,))
                self._write.execute("DELETE FROM locks WHERE expires <= ?", (now,))

    async def claim(self, key: str, token: str, ttl: float) -> bool:
        return await asyncio.to_thread(self._claim, key, token, ttl)

    def _claim(self, key: str, token: str, ttl: float) -> bool:
        now = time.time()
        with self._write_lock:
            cursor = self._write.execute(_CLAIM, (key, token, now + ttl, now))
            return cursor.rowcount > 0

    async def release(self, key: str, token: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM locks WHERE key = ? AND token = ?",
                                (key, token))

    def _run(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._write_lock:
            self._write.execute(sql, args)

    async def aclose(self) -> None:
        with self._read_lock:
            self._read.close()
        with self._write_lock:
            self._write.close()
