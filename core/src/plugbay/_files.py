"""Private files: the ledger and the cache can hold prompts, so they are made 0600 in a
folder made 0700, before SQLite opens them (its -wal and -shm files copy the mode)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["private_file", "private_folder"]


def private_folder(path: Path) -> None:
    """Create ``path`` and each missing folder above it 0700 (``mkdir(parents=True)``
    gives the parents the default mode)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def private_file(path: Path, *, private_dir: bool = False) -> None:
    """Create ``path`` 0600 if missing, and its folders 0700 if missing. ``private_dir``
    tightens an existing folder too (plugbay's own data folder)."""
    if not path.parent.exists():
        private_folder(path.parent)
    elif private_dir:
        os.chmod(path.parent, 0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
