"""The usage ledger: one row per call (tokens, cost, latency, status, tags), written in
the background. Embedded SQLite by default; PostgreSQL when ``[ledger] url`` says so.

Config::

    [ledger]
    path = "~/.local/share/plugbay/ledger.db"  # default: the user data dir; "off" disables
    url = "postgresql://user:pw@host/db"        # instead of path: a PostgreSQL ledger
    record_text = false                          # store prompt and response text (opt-in)
    batch = 500                                  # most records per write transaction

``PLUGBAY_LEDGER`` (a path, a URL or ``off``) overrides the file. See ``docs/cost.md``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugbay.cost.ledger.base import Backend
from plugbay.cost.ledger.journal import Journal, journal_dir
from plugbay.cost.ledger.records import COLUMNS, UsageRecord
from plugbay.cost.ledger.writer import LedgerWriter, close_all

__all__ = ["COLUMNS", "Backend", "Ledger", "LedgerSettings", "UsageRecord", "check_url",
           "close_all", "default_path", "open_backend"]

_OFF = ("off", "false", "none", "0", "")


def default_path(env: Mapping[str, str]) -> Path:
    """``ledger.db`` under the platform's user data dir."""
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "plugbay" / "ledger.db"


@dataclass(frozen=True)
class LedgerSettings:
    url: str | None  # None: no ledger
    record_text: bool = False
    batch: int = 500

    @classmethod
    def from_config(cls, section: Any, env: Mapping[str, str]) -> LedgerSettings:
        from plugbay.errors import ConfigError

        table = dict(section) if isinstance(section, Mapping) else {}
        if section is False:
            table = {"path": "off"}
        unknown = set(table) - {"path", "url", "record_text", "batch", "enabled"}
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key="ledger")
        override = env.get("PLUGBAY_LEDGER")
        where: str | None
        if override is not None:
            where = override
        elif table.get("enabled") is False:
            where = "off"
        else:
            where = table.get("url") or table.get("path")
        if where is None:
            url: str | None = f"sqlite:///{default_path(env)}"
        elif str(where).strip().lower() in _OFF:
            url = None
        elif "://" in str(where):
            url = str(where)
        else:
            url = f"sqlite:///{Path(str(where)).expanduser()}"
        batch = table.get("batch", 500)
        if not isinstance(batch, int) or batch < 1:
            raise ConfigError("must be a positive integer", key="ledger.batch")
        return cls(url, bool(table.get("record_text", False)), batch)


def check_url(url: str) -> None:
    """Fail fast (``ConfigError``) on a ledger URL no backend can open: an unknown scheme,
    or PostgreSQL without psycopg (checked without importing it)."""
    import importlib.util

    from plugbay.errors import ConfigError

    scheme = url.partition("://")[0].lower()
    if scheme in ("postgres", "postgresql"):
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError("a PostgreSQL ledger needs psycopg: pip install "
                              "'plugbay[postgres]'", key="ledger.url")
    elif scheme != "sqlite":
        raise ConfigError(f"unsupported ledger URL scheme {scheme!r} (sqlite, postgresql)",
                          key="ledger.url")


def open_backend(url: str) -> Backend:
    """A backend for ``sqlite:///path`` or ``postgresql://...``."""
    from plugbay.errors import ConfigError

    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        from plugbay.cost.ledger.sqlite import SQLiteBackend

        return SQLiteBackend(url[len("sqlite:///"):] if url.startswith("sqlite:///")
                             else url.partition("://")[2])
    if scheme in ("postgres", "postgresql"):
        from plugbay.cost.ledger.postgres import PostgresBackend

        return PostgresBackend(url)
    raise ConfigError(f"unsupported ledger URL scheme {scheme!r} (sqlite, postgresql)",
                      key="ledger.url")


_shared: dict[str, LedgerWriter] = {}
_shared_lock = threading.Lock()


def _writer_for(url: str, batch: int) -> LedgerWriter:
    """One writer (thread + connection) per database per process, shared by clients."""
    with _shared_lock:
        writer = _shared.get(url)
        if writer is None or writer.closed:
            journal = Journal(journal_dir(url, default_path(os.environ).parent))
            writer = _shared[url] = LedgerWriter(lambda: open_backend(url), batch=batch,
                                                 name=url.partition("://")[0] + "-ledger",
                                                 journal=journal)
        return writer


class Ledger:
    """Write and read the usage ledger at ``url``."""

    def __init__(self, url: str, *, record_text: bool = False, batch: int = 500) -> None:
        check_url(url)
        self.url = url
        self.record_text = record_text
        self.writer = _writer_for(url, batch)

    @classmethod
    def from_config(cls, section: Any, env: Mapping[str, str]) -> Ledger | None:
        settings = LedgerSettings.from_config(section, env)
        if settings.url is None:
            return None
        return cls(settings.url, record_text=settings.record_text, batch=settings.batch)

    def record(self, record: UsageRecord) -> None:
        """Enqueue ``record``; it is written in the background."""
        self.writer.put(record)

    def flush(self, timeout: float = 30.0) -> bool:
        return self.writer.flush(timeout)

    def close(self) -> None:
        self.writer.close()

    def fetch(self, since: float | None = None, until: float | None = None,
              ) -> list[UsageRecord]:
        """Rows in ``[since, until)``, oldest first (pending records are flushed first)."""
        self.flush()
        return self.writer.backend().fetch(since, until)

    def count(self) -> int:
        self.flush()
        return self.writer.backend().count()

    def spent(self, since: float, kind: str = "global", match: str | None = None) -> float:
        """Total known cost since ``since`` in a budget scope, summed by the database."""
        self.flush()
        return self.writer.backend().spent(since, kind, match)

    def __repr__(self) -> str:
        return f"Ledger({_redact_url(self.url)!r})"


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + sep + rest


