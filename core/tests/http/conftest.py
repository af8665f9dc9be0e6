"""Fixtures for the AsyncioTransport tests; puts ``_transport_support`` on the path."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plugbay.http.transport import AsyncioTransport

# --import-mode=importlib does not put test folders on sys.path; the helpers need it.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
async def transport() -> AsyncIterator[AsyncioTransport]:
    t = AsyncioTransport()
    yield t
    await t.aclose()


@pytest.fixture(autouse=True)
def no_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``*.test`` to 127.0.0.1 on the running loop; ``slow.test`` never resolves."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow.test":
            await asyncio.sleep(60)
        if isinstance(host, str) and host.endswith(".test"):
            host = "127.0.0.1"
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
