"""Fixtures for the cost/ledger/budget/rate-limit tests: a FakeServer speaking the OpenAI
format, clients with a ledger in a temporary directory, and the CI services
(PostgreSQL, Redis) from ``.ci/services.env`` — skipped when unreachable, except under
``CI=true`` where a missing service fails the test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import plugbay
from plugbay.testing.server import FakeServer, Reply
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
KEY = "sk-test-ledger-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[3]
DEFAULTS = {"PLUGBAY_TEST_POSTGRES_URL": "postgresql://plugbay:plugbay@127.0.0.1:5432/plugbay_test",
            "PLUGBAY_TEST_REDIS_URL": "redis://127.0.0.1:6379/15"}


def service_url(name: str) -> str:
    """The URL .ci/services wrote, else the environment, else the well-known default."""
    if name in os.environ:
        return os.environ[name]
    env_file = ROOT / ".ci" / "services.env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == name:
                return value.strip()
    return DEFAULTS[name]


def require(name: str, url: str, module: str) -> None:
    """Skip (or fail under CI=true) when the driver or the server is missing."""
    ci = os.environ.get("CI", "").lower() == "true"
    try:
        __import__(module)
    except ImportError:
        reason = f"{module} is not installed (pip install 'plugbay[{name}]')"
        if ci:
            pytest.fail(reason)
        pytest.skip(reason)
    u = urlparse(url)
    try:
        socket.create_connection((u.hostname or "127.0.0.1", u.port or 0), timeout=1).close()
    except OSError as exc:
        reason = f"{name} is not reachable at {u.hostname}:{u.port} ({exc}); run .ci/services"
        if ci:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = service_url("PLUGBAY_TEST_POSTGRES_URL")
    require("postgres", url, "psycopg")
    import psycopg

    from plugbay.cost.ledger import Ledger

    Ledger(url).close()  # an earlier test's writer (one per database) would miss the drop
    with psycopg.connect(url, autocommit=True) as conn:  # a clean ledger per test
        conn.execute("DROP TABLE IF EXISTS calls")
        conn.execute("DROP TABLE IF EXISTS plugbay_schema")
        conn.execute("DROP TABLE IF EXISTS calls_hourly")  # the report's hourly sums
        conn.execute("DROP TABLE IF EXISTS calls_rollup")
    yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = service_url("PLUGBAY_TEST_REDIS_URL")
    require("redis", url, "redis")
    import redis

    r = redis.Redis.from_url(url)
    r.flushdb()
    r.close()
    yield url


def ok(text: str = "hello", usage: dict[str, int] | None = None, model: str = "gpt-4o-mini",
       delay: float = 0.0, headers: dict[str, str] | None = None) -> Reply:
    message = {"role": "assistant", "content": text}
    return Reply.json(WIRE.completion(model, message, "stop", usage or {"input": 1000,
                                                                        "output": 200}),
                      delay=delay, headers=headers)


def sse_ok(pieces: list[str], usage: dict[str, int] | None = None,
           model: str = "gpt-4o-mini") -> Reply:
    return Reply.sse(WIRE.stream_events(model, [{"content": p} for p in pieces], "stop",
                                        usage or {"input": 10, "output": 2}))


def config(srv: FakeServer, db: Path | str | None, providers: tuple[str, ...] = ("openai",),
           **sections: Any) -> dict[str, Any]:
    table = {n: {"plugin": "openai", "api_key": KEY, "base_url": f"{srv.url}/{n}/v1"}
             for n in providers}
    ledger = sections.pop("ledger", {})
    ledger.setdefault("path", str(db) if db is not None else "off")
    return {"providers": table, "ledger": ledger,
            # single attempts: these tests count rows and requests per call
            "routing": {"backoff_base": 0.01, "backoff_max": 0.02, "retries": 0},
            **sections}


def chat(provider: str = "openai") -> str:
    return f"/{provider}/v1/chat/completions"


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


def make(srv: FakeServer, db: Path | str | None, **sections: Any) -> plugbay.Client:
    return plugbay.Client(config(srv, db, **sections), env={"HOME": str(db or "/nonexistent")})
