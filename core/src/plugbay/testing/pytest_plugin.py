"""plugbay's pytest plugin (entry point ``plugbay``): the ``fake_server`` fixture.

Loaded into every pytest run where plugbay is installed, so it stays import-light:
the server module is imported only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
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
