"""Two gateway instances x two workers on one PostgreSQL ledger and one Redis: 400
concurrent calls under one key with a small budget spend it once per call and overspend
it by at most one call's estimate; a revoked key is refused everywhere within 1 s."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _gateway_support import GatewayProcess, async_openai_client, cli, openai_client, write_config

from plugbay.cost.budgets import estimate_cost
from plugbay.testing.server import FakeServer
from plugbay.types import Message, Price, Request

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

PG = os.environ.get("PLUGBAY_TEST_POSTGRES_URL")
REDIS = os.environ.get("PLUGBAY_TEST_REDIS_URL")
HI = [{"role": "user", "content": "hi"}]
BUDGET = 0.0003  # about 64 calls of 4.65 micro-USD


@pytest.fixture(scope="module")
def pair(upstream: FakeServer, tmp_path_factory: pytest.TempPathFactory,
         ) -> Iterator[list[GatewayProcess]]:
    if not PG or not REDIS:
        pytest.skip("needs PLUGBAY_TEST_POSTGRES_URL and PLUGBAY_TEST_REDIS_URL (.ci/services)")
    home = tmp_path_factory.mktemp("pair")
    prefix = f"pbgw{uuid.uuid4().hex[:8]}"
    config = write_config(home / "plugbay.toml", upstream.url, f"""
[ledger]
url = "{PG}"

[state]
backend = "redis"
url = "{REDIS}"
prefix = "{prefix}"
""")
    gws = [GatewayProcess(config, workers=2), GatewayProcess(config, workers=2)]
    yield gws
    for gw in gws:
        gw.stop()


def _estimate() -> float:
    """What one call reserves: its input estimate and max_tokens at gpt-4o-mini's price."""
    import datetime as dt

    price = Price(input=0.15, output=0.6, as_of=dt.date(2026, 1, 1), source="test")
    request = Request(model="gpt-4o-mini", messages=[Message.user("hi")], max_tokens=5)
    return estimate_cost(request, price, 1024)


async def _calls(gws: list[GatewayProcess], secret: str, n: int) -> list[str]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    clients = [async_openai_client(gw, key=secret, timeout=60,
                                   http_client=openai.DefaultAsyncHttpxClient(limits=limits))
               for gw in gws]

    async def one(i: int) -> str:
        try:
            await clients[i % 2].chat.completions.create(model="openai/gpt-4o-mini",
                                                         messages=HI, max_tokens=5)
            return "ok"
        except openai.RateLimitError as exc:
            return "budget" if "budget" in exc.message else f"rate: {exc.message}"

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        for c in clients:
            await c.close()


def test_one_budget_across_instances(pair: list[GatewayProcess]) -> None:
    made = cli(pair[0].config, "keys", "create", "--budget", str(BUDGET))
    outs = asyncio.run(_calls(pair, made["key"], 400))
    done = outs.count("ok")
    assert done + outs.count("budget") == 400, set(outs)
    row: dict[str, object] = {}
    for _ in range(200):  # every worker's ledger writer commits in the background
        rows = {r["key"]: r for r in cli(pair[0].config, "usage", "--by", "key")}
        row = rows.get(made["id"], {})
        if row.get("calls") == done:
            break
        time.sleep(0.05)
    assert row["calls"] == done  # each answered call recorded once, refused ones never
    cost = row["cost"]
    assert isinstance(cost, float)
    assert cost == pytest.approx(done * (11 * 0.15 + 5 * 0.6) / 1e6)  # max_tokens=5
    assert cost <= BUDGET + _estimate()  # overspent by at most one call's estimate
    assert cost >= BUDGET * 0.8  # and the budget was used, not refused early


def test_a_revoked_key_is_refused_everywhere_within_a_second(
        pair: list[GatewayProcess]) -> None:
    made = cli(pair[0].config, "keys", "create")
    for gw in pair:
        with openai_client(gw, key=made["key"]) as client:
            for _ in range(4):
                client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
    cli(pair[1].config, "keys", "revoke", made["id"])
    time.sleep(1.0)
    for gw in pair:
        with openai_client(gw, key=made["key"]) as client:
            for _ in range(6):  # both workers of each instance
                with pytest.raises(openai.AuthenticationError):
                    client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)


def test_ready_checks_ledger_and_redis(pair: list[GatewayProcess], tmp_path: Path) -> None:
    with openai_client(pair[0]) as client:
        ready = client.get(pair[0].url + "/ready", cast_to=httpx.Response).json()
    assert ready == {"status": "ok", "checks": {"ledger": "ok", "redis": "ok"}}
