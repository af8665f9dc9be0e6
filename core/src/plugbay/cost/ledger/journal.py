"""The crash journal: a call's ledger row survives ``kill -9``.

The call path appends each row to this process's journal segment with a single
``write`` on an ``O_APPEND`` file: once the call has returned, the row is in the kernel,
so the process can die at any moment after. A row is its column values in ``marshal``
form behind a 4-byte length (about 1 µs to encode, against 3-5 µs for JSON); the files
are private to the user (0700/0600) and only ever read by this code, and a record that
cannot be read back (a crash mid-write, another Python's format) is skipped with a
warning. The writer thread rotates to
a fresh segment before it takes a batch, and deletes the old segment once the batch is
in the database. A segment left by a process that died is replayed into the database
the next time any process opens that ledger; every row has a unique ``uid``, so a row
that was written just before the crash is not written twice.

Segments are ``<pid>-<n>.journal`` files in a private folder (0700, files 0600): next to
an SQLite ledger (``<file>.plugbay-journal``), else under the user data folder.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from plugbay._files import private_folder
from plugbay.cost.ledger.records import UsageRecord

__all__ = ["Journal", "journal_dir"]

log = logging.getLogger("plugbay.ledger")
_LENGTH = struct.Struct("<I")
_SUFFIX = ".journal"


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
        data = marshal.dumps(record.values())
        os.write(self._fd, _LENGTH.pack(len(data)) + data)  # type: ignore[arg-type]

    def _open(self) -> None:
        if not self.folder.exists():
            private_folder(self.folder)
        self._n += 1
        self._path = self.folder / f"{self.pid}-{self._n}{_SUFFIX}"
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
        for segment in sorted(self.folder.glob(f"*{_SUFFIX}")):
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
    data = segment.read_bytes()
    at, n, size = 0, 0, _LENGTH.size
    while at + size <= len(data):
        (length,) = _LENGTH.unpack_from(data, at)
        start, at = at + size, at + size + length
        if at > len(data):
            break  # cut by the crash mid-write: that call had not returned
        n += 1
        try:
            yield UsageRecord.from_row(marshal.loads(data[start:at]))
        except (ValueError, TypeError, EOFError) as exc:
            log.warning("plugbay ledger: skipped record %d of %s: %s", n, segment, exc)
