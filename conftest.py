"""Repository-wide test setup: keep every test run out of the user's home directory.

The usage ledger is on by default and writes under the user data dir; tests get a
throwaway HOME instead (the package caches keep their real location).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_real_home = Path.home()
os.environ.setdefault("UV_CACHE_DIR", str(_real_home / ".cache" / "uv"))
os.environ.setdefault("PIP_CACHE_DIR", str(_real_home / ".cache" / "pip"))
os.environ["HOME"] = tempfile.mkdtemp(prefix="plugbay-test-home-")
os.environ.pop("XDG_DATA_HOME", None)
