"""plugbay's pytest plugin (entry point ``plugbay``): the ``fake_server`` and
``tiktoken_cache`` fixtures.

Loaded into every pytest run where plugbay is installed, so it stays import-light:
the server module is imported only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from plugbay.testing.server import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A started ``FakeServer`` on 127.0.0.1, stopped when the test ends."""
    from plugbay.testing.server import FakeServer

    with FakeServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def _tiktoken_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from plugbay.testing.encodings import seed_tiktoken_cache

    cache = tmp_path_factory.mktemp("tiktoken-cache")
    if not seed_tiktoken_cache(cache):
        pytest.skip("the test dependency quicktok-v1 (the source of the encoding files) "
                    "is not installed")
    return cache


@pytest.fixture
def tiktoken_cache(_tiktoken_files: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``TIKTOKEN_CACHE_DIR`` pointed at a directory holding the real ``o200k_base`` and
    ``cl100k_base`` files (see :mod:`plugbay.testing.encodings`), so tiktoken's own
    loader finds them without the network."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(_tiktoken_files))
    return _tiktoken_files
