"""Fixtures for the virtual-key tests: a key store on SQLite and on the PostgreSQL of
``.ci/services.env`` (skipped when unreachable, failing under CI=true), with and
without the Redis of the same file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from plugbay.cost.ledger import close_all
from plugbay.gateway.keys.db import open_db
from plugbay.gateway.keys.secret import KeyHasher
from plugbay.gateway.keys.store import KeyStore

from ..ledger.conftest import redis_url, require, service_url, srv

__all__ = ["redis_url", "srv"]  # the ledger tests' fixtures, used here too

MASTER = "pb-master-test-0123456789abcdef"
ENV = {"PLUGBAY_MASTER_KEY": MASTER}
TABLES = ("plugbay_keys", "plugbay_keys_version", "plugbay_keys_schema", "calls",
          "plugbay_schema")


def clean_postgres() -> str:
    url = service_url("PLUGBAY_TEST_POSTGRES_URL")
    require("postgres", url, "psycopg")
    import psycopg

    close_all()  # ledger writers of earlier tests know tables that are about to go
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The ledger database: a fresh SQLite file, or a clean PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield clean_postgres()


def make_store(url: str, shared: Any = None, **options: Any) -> KeyStore:
    return KeyStore(open_db(url), KeyHasher.from_env(ENV), master=MASTER, shared=shared,
                    **options)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[KeyStore]:
    s = make_store(db_url)
    yield s
    await s.aclose()
