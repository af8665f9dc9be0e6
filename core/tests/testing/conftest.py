"""Fixtures for the FakeServer tests; puts ``_fakeserver_support`` on the path."""

from __future__ import annotations

import http.client
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugbay.testing.server import FakeServer

# --import-mode=importlib does not put test folders on sys.path; the helpers need it.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def conn(srv: FakeServer) -> Iterator[http.client.HTTPConnection]:
    client = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    yield client
    client.close()
