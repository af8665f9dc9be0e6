"""One database connection shared by threads, which on PostgreSQL is replaced once when
it was lost: the PostgreSQL ledger (``postgres.py``), the ledger's reports
(``report.py``) and the gateway's key table (``plugbay.gateway.keys.db``) read and write
through one of these.

A connection counts as lost when psycopg marks it *broken*: closed, but not by
``close()`` (the server restarted, the backend was terminated, the network dropped).
An SQL error, a statement timeout (``QueryCanceled``, an ``OperationalError`` too) or a
connection closed on purpose leaves it unbroken and is raised as is, never retried.
SQLite connections are never replaced: a file does not go away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Reconnecting", "lost", "transaction"]

T = TypeVar("T")


def lost(exc: BaseException, conn: Any) -> bool:
    """Whether ``exc``, raised while using the psycopg connection ``conn``, says that the
    connection is gone (rather than that the statement failed)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and bool(conn.broken)


def transaction(conn: Any, fn: Callable[[Any], T]) -> T:
    """``fn(cursor)`` committed as one transaction, rolled back when it fails (a failed
    statement must not leave the connection refusing every later one)."""
    cur = conn.cursor()
    try:
        out = fn(cur)
        conn.commit()
        return out
    except BaseException:
        if not getattr(conn, "broken", False):  # a lost connection has nothing to undo
            conn.rollback()
        raise


class Reconnecting:
    """The connection ``connect()`` opens, used under a lock; ``dialect`` is ``sqlite`` or
    ``postgres``."""

    def __init__(self, connect: Callable[[], Any], dialect: str) -> None:
        self.dialect = dialect
        self._connect = connect
        self._lock = threading.Lock()
        self._conn = connect()

    def run(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)``; on PostgreSQL, once more on a new connection when the
        first was lost (a restart must not leave callers failing until they restart).
        ``fn`` may run twice, so it must not have committed anything when it fails."""
        with self._lock:
            try:
                return fn(self._conn)
            except Exception as exc:
                if self.dialect != "postgres" or not lost(exc, self._conn):
                    raise
                try:
                    self._conn.close()
                except Exception:
                    pass
                self._conn = self._connect()
                return fn(self._conn)

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """``fn(cursor)`` in one transaction (``run``'s rules: once more on a new
        connection when the first was lost)."""
        return self.run(lambda conn: transaction(conn, fn))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
