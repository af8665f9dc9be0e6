"""The crash journal: a call's ledger row survives ``kill -9``.

The call path appends each row, as one JSON line, to this process's journal segment
with a single ``write`` on an ``O_APPEND`` file: once the call has returned, the row is
in the kernel, so the process can die at any moment after. The writer thread rotates to
a fresh segment before it takes a batch, and deletes the old segment once the batch is
in the database. A segment left by a process that died is replayed into the database
the next time any process opens that ledger; every row has a unique ``uid``, so a row
that was written just before the crash is not written twice.

Segments are ``<pid>-<n>.jsonl`` files in a private folder (0700, files 0600): next to
an SQLite ledger (``<file>.plugbay-journal``), else under the user data folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from plugbay._files import private_folder
from plugbay.cost.ledger.records import UsageRecord

__all__ = ["Journal", "journal_dir"]

log = logging.getLogger("plugbay.ledger")
# One encoder, built once: the call path pays only the encoding (a few microseconds).
_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False,
                           default=str).encode


def journal_dir(url: str, data_dir: Path) -> Path:
    """Where the journal of the ledger at ``url`` lives."""
    if url.startswith("sqlite:"):
        path = url.partition(":///")[2] or url.partition("://")[2]
        return Path(path).expanduser().with_name(Path(path).name + ".plugbay-journal")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return data_dir / "journal" / digest


class Journal:
    """One process's segments of the journal at ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pid = os.getpid()
        self._n = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self.lock = threading.Lock()  # an append and a rotation never interleave

    def append(self, record: UsageRecord) -> None:
        """Write ``record`` to the current segment (the caller holds ``lock``)."""
        if self._fd is None:
            self._open()
        line = _ENCODE(record.values()) + "\n"
        os.write(self._fd, line.encode())  # type: ignore[arg-type]

    def _open(self) -> None:
        if not self.folder.exists():
            private_folder(self.folder)
        self._n += 1
        self._path = self.folder / f"{self.pid}-{self._n}.jsonl"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def rotate(self) -> Path | None:
        """Close the current segment (the caller holds ``lock``); later appends go to a
        new one. Returns the closed segment, to delete once its rows are written."""
        fd, path = self._fd, self._path
        self._fd = self._path = None
        if fd is not None:
            os.close(fd)
        return path

    def replay(self, write: Callable[[list[UsageRecord]], None]) -> int:
        """Write the rows of every segment whose process is gone, then delete it."""
        if not self.folder.is_dir():
            return 0
        replayed = 0
        for segment in sorted(self.folder.glob("*.jsonl")):
            owner = _pid_of(segment)
            if owner == self.pid or (owner is not None and _alive(owner)):
                continue
            records = list(_read(segment))
            if records:
                write(records)
                replayed += len(records)
            segment.unlink(missing_ok=True)
        if replayed:
            log.warning("plugbay ledger: wrote %d rows from the journal of a process that "
                        "ended before it could (%s)", replayed, self.folder)
        return replayed


def _pid_of(segment: Path) -> int | None:
    head = segment.name.partition("-")[0]
    return int(head) if head.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _read(segment: Path) -> Iterator[UsageRecord]:
    with segment.open("rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break  # a line cut by the crash: its call had not returned
            try:
                yield UsageRecord.from_row(json.loads(line))
            except (ValueError, TypeError) as exc:
                log.warning("plugbay ledger: skipped line %d of %s: %s", n, segment, exc)
