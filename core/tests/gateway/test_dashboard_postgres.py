"""The dashboard on a PostgreSQL ledger, two workers: a session made by one worker is
taken by the other (it is signed, not stored), and every page reads its figures from
PostgreSQL."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from _gateway_support import GatewayProcess, openai_client, service, write_config
from test_dashboard_auth import login, read

from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(120)
PG = service("PLUGBAY_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def gw(upstream: FakeServer, tmp_path_factory: pytest.TempPathFactory,
       ) -> Iterator[GatewayProcess]:
    if not PG:
        if os.environ.get("CI") == "true":
            pytest.fail("PLUGBAY_TEST_POSTGRES_URL is not set (.ci/services)")
        pytest.skip("needs PLUGBAY_TEST_POSTGRES_URL (.ci/services)")
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:  # a clean ledger
        for table in ("calls", "plugbay_schema", "calls_hourly", "calls_rollup"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    home = tmp_path_factory.mktemp("pgui")
    g = GatewayProcess(write_config(home / "plugbay.toml", upstream.url,
                                    f'[ledger]\nurl = "{PG}"\n'), workers=2)
    yield g
    g.stop()


def test_pages_on_postgres_across_workers(gw: GatewayProcess) -> None:
    with openai_client(gw) as client:
        for _ in range(3):
            client.chat.completions.create(model="openai/gpt-4o-mini",
                                           messages=[{"role": "user", "content": "hi"}])
    cookie = login(gw)
    page = ""
    for _ in range(80):  # ledger writers commit in the background; either worker answers
        page = read(gw, "/ui/spend?by=model", cookie)
        if "openai/gpt-4o-mini" in page:
            break
        time.sleep(0.1)
    row = re.search(r"<td>openai/gpt-4o-mini</td><td class=n>(\d+)</td>", page)
    assert row and int(row.group(1)) == 3
    for _ in range(10):  # the same session on whichever worker takes the connection
        for path in ("/ui", "/ui/keys", "/ui/routes", "/ui/calls?status=failed",
                     "/ui/calls?model=openai/gpt-4o-mini"):
            assert "<h1>" in read(gw, path, cookie)
    calls = read(gw, "/ui/calls?model=openai/gpt-4o-mini", cookie)
    assert calls.count("<td>openai/gpt-4o-mini</td>") == 3
