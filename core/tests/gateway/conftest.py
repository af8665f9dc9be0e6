"""Fixtures for the gateway tests (helpers in ``_gateway_support``)."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; the helpers need it.
sys.path.insert(0, str(Path(__file__).parent))

from _gateway_support import gateway, own_gateway, upstream  # noqa: F401  (fixtures)
