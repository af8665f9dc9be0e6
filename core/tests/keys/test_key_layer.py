"""``KeyLayer`` enforces a key's budget, RPM/TPM and model list on real calls (a real
client, a fake OpenAI server on 127.0.0.1), settles with what was used, and shares
its counters through Redis so that a budget never multiplies with processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.cli import main
from plugbay.cost.shared import SharedState
from plugbay.gateway.keys.layer import KeyLayer
from plugbay.gateway.keys.store import KeyStore
from plugbay.testing.server import FakeServer

from ..ledger.conftest import chat, ok, sse_ok
from .conftest import make_store

pytestmark = pytest.mark.timeout(60)
PRICES = {"openai/gpt-4o-mini": {"input": 1.0, "output": 2.0}}
USAGE = {"input": 10, "output": 50}  # 110e-6 USD a call; with max_tokens=50 the
ACTUAL = 110e-6                      # estimate is 114e-6
MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
async def store(url: str) -> AsyncIterator[KeyStore]:
    s = make_store(url)
    yield s
    await s.aclose()


def client(srv: FakeServer, ledger_url: str, *layers: Any, **sections: Any,
           ) -> plugbay.Client:
    cfg = {"providers": {"openai": {"api_key": "sk-test-keys-0123456789abcdef",
                                    "base_url": f"{srv.url}/openai/v1"}},
           "prices": PRICES, "ledger": {"path": ledger_url}, "routing": {"retries": 0},
           **sections}
    return plugbay.Client(cfg, env={}, layers=list(layers))


async def call(c: plugbay.Client, key_id: str | None, model: str = MODEL) -> str:
    tags = {"key": key_id} if key_id else None
    try:
        await c.acomplete(model, "hi", max_tokens=50, tags=tags)
        return "ok"
    except errors.BudgetExceededError:
        return "budget"
    except errors.RateLimitError:
        return "rate"


@pytest.fixture
async def any_store(db_url: str) -> AsyncIterator[KeyStore]:
    """A store on SQLite, then on PostgreSQL (the ledger in the same database)."""
    s = make_store(db_url)
    yield s
    await s.aclose()


async def test_a_total_budget_refuses_once_spent_and_is_seeded_from_the_ledger(
        srv: FakeServer, any_store: KeyStore, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    store, url = any_store, db_url
    srv.add("POST", chat(), ok(usage=USAGE))
    key, _ = await store.create(budget=0.0003)  # two calls fit, the third would not
    c = client(srv, url, KeyLayer(store))
    try:
        assert [await call(c, key.id) for _ in range(3)] == ["ok", "ok", "budget"]
        with pytest.raises(errors.BudgetExceededError) as info:
            await c.acomplete(MODEL, "hi", max_tokens=50, tags={"key": key.id})
        assert info.value.budget == f"key:{key.id}" and info.value.limit == 0.0003
        assert info.value.spent == pytest.approx(2 * ACTUAL)
        assert info.value.retry_after is None  # a total budget does not come back
        assert len(srv.requests) == 2  # refused before anything was sent
        assert await call(c, None) == "ok"  # calls without a key are not its business
    finally:
        await c.aclose()
    # a new process (fresh counters) starts from what the ledger holds for the key
    c = client(srv, url, KeyLayer(store))
    try:
        assert await call(c, key.id) == "budget"
    finally:
        await c.aclose()
    spend = await store.spend(key)
    assert spend["total"] == pytest.approx(2 * ACTUAL)
    assert spend["remaining"] == pytest.approx(0.0003 - 2 * ACTUAL)
    capsys.readouterr()
    assert main(["usage", "--by", "key", "--ledger", url, "--json"]) == 0
    import json

    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[key.id]["calls"] == 2 and rows[key.id]["cost"] == pytest.approx(2 * ACTUAL)
    assert rows["-"]["calls"] == 1  # the call made without a key


async def test_a_daily_budget_says_when_it_comes_back(srv: FakeServer, store: KeyStore,
                                                      url: str) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    key, _ = await store.create(budget=0.0001, period="daily")
    c = client(srv, url, KeyLayer(store))
    try:
        with pytest.raises(errors.BudgetExceededError) as info:
            await c.acomplete(MODEL, "hi", max_tokens=50, tags={"key": key.id})
        assert info.value.retry_after is not None and 0 < info.value.retry_after <= 86400
        assert srv.requests == []
    finally:
        await c.aclose()


async def test_rpm_and_tpm_limits(srv: FakeServer, store: KeyStore, url: str) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    fast, _ = await store.create(rpm=2)
    big, _ = await store.create(tpm=100)  # one call's estimate is 50 + a few tokens
    c = client(srv, url, KeyLayer(store))
    try:
        assert [await call(c, fast.id) for _ in range(3)] == ["ok", "ok", "rate"]
        with pytest.raises(errors.RateLimitError) as info:
            await c.acomplete(MODEL, "hi", max_tokens=50, tags={"key": fast.id})
        assert info.value.retry_after is not None and info.value.retry_after > 0
        assert info.value.code == "key_rate_limit"
        # settled to the real 60 tokens, the second call's estimate no longer fits
        assert [await call(c, big.id) for _ in range(2)] == ["ok", "rate"]
        assert len(srv.requests) == 3
    finally:
        await c.aclose()


async def test_a_model_outside_the_list_and_a_revoked_key_are_refused(
        srv: FakeServer, store: KeyStore, url: str) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    key, _ = await store.create(models=["anthropic/*"])
    gone, _ = await store.create()
    await store.revoke(gone.id)
    c = client(srv, url, KeyLayer(store))
    try:
        with pytest.raises(errors.PermissionDeniedError, match="may not call"):
            await c.acomplete(MODEL, "hi", tags={"key": key.id})
        with pytest.raises(errors.AuthenticationError, match="revoked"):
            await c.acomplete(MODEL, "hi", tags={"key": gone.id})
        with pytest.raises(errors.AuthenticationError):
            await c.acomplete(MODEL, "hi", tags={"key": "nosuchkey0"})
        assert srv.requests == []
    finally:
        await c.aclose()


async def test_a_stream_is_settled_with_what_it_used_even_when_abandoned(
        srv: FakeServer, store: KeyStore, url: str) -> None:
    srv.add("POST", chat(), sse_ok(["a", "b", "c"], usage=USAGE))
    key, _ = await store.create(budget=1.0, tpm=10_000)
    layer = KeyLayer(store)
    c = client(srv, url, layer)
    try:
        text = ""
        async for event in c.astream(MODEL, "hi", max_tokens=50, tags={"key": key.id}):
            text += getattr(event, "text", "") or ""
        assert text == "abc"
        await layer.drain()
        counter = f"key:{key.id}:total"
        spent, reserved = layer.budgets.peek(counter)
        assert spent == pytest.approx(ACTUAL) and reserved == pytest.approx(0, abs=1e-12)
        stream = c.astream(MODEL, "hi", max_tokens=50, tags={"key": key.id})
        async for _ in stream:
            break  # the caller goes away after the first event
        await stream.aclose()
        await layer.drain()
        spent, reserved = layer.budgets.peek(counter)
        assert reserved == pytest.approx(0, abs=1e-12)  # nothing left held
        assert spent >= ACTUAL
    finally:
        await c.aclose()


async def test_two_processes_share_one_budget_through_redis(
        srv: FakeServer, url: str, redis_url: str) -> None:
    """Two stores and layers with their own Redis connections (as two gateway
    processes have) spend one budget: together they make the calls it allows."""
    srv.add("POST", chat(), ok(usage=USAGE, delay=0.01))
    stores = [make_store(url, SharedState(redis_url, prefix="pbkeys")) for _ in range(2)]
    key, _ = await stores[0].create(budget=0.002)  # 18 calls of 110e-6 fit
    clients = [client(srv, url, KeyLayer(s)) for s in stores]
    try:
        outs = await asyncio.gather(*(call(clients[i % 2], key.id) for i in range(60)))
    finally:
        for c in clients:
            await c.aclose()
        for s in stores:
            await s.aclose()
    done = outs.count("ok")
    assert done + outs.count("budget") == 60
    assert len(srv.requests) == done
    assert done * ACTUAL <= 0.002 + 114e-6  # at most one estimate over, not twice
    assert done * ACTUAL >= 0.002 - 2 * 114e-6  # and the budget was used
    assert "ok" in outs[0::2] and "ok" in outs[1::2]  # both processes spent from it


async def test_with_redis_a_refusal_gives_back_what_the_other_check_took(
        srv: FakeServer, url: str, redis_url: str) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    store = make_store(url, SharedState(redis_url, prefix="pbkeys"))
    layer = KeyLayer(store)
    c = client(srv, url, layer)
    try:
        limited, _ = await store.create(budget=1.0, rpm=1)
        assert [await call(c, limited.id) for _ in range(2)] == ["ok", "rate"]
        poor, _ = await store.create(budget=0.0001, tpm=10_000)
        assert await call(c, poor.id) == "budget"
        await layer.drain()
        import redis

        r = redis.Redis.from_url(redis_url)
        counter = f"pbkeys:budget:key:{limited.id}:total"
        spent = r.hget(counter, "spent")
        holds = r.zcard(counter + ":holds")
        tokens = r.hgetall(f"pbkeys:rl:key:{poor.id}:tok")
        r.close()
        assert float(spent) == pytest.approx(ACTUAL)  # the refused call spent nothing
        assert holds == 0  # and holds nothing
        assert sum(int(v) for v in tokens.values()) == 0  # the budget's refusal: no tokens
        assert len(srv.requests) == 1
    finally:
        await c.aclose()
        await store.aclose()


async def test_a_route_call_is_estimated_with_the_price_the_gateway_gives(
        srv: FakeServer, store: KeyStore, url: str) -> None:
    import datetime as dt

    from plugbay.types import Price

    srv.add("POST", chat(), ok(usage=USAGE))
    key, _ = await store.create(budget=0.0001)  # under one call's estimate (114e-6)
    price = Price(input=1.0, output=2.0, as_of=dt.date(2026, 11, 1), source="test")
    routes = {"r": {"strategy": "priority", "targets": [MODEL]}}
    for layer, expect in ((KeyLayer(store), "ok"),  # no target yet: estimated at ~0
                          (KeyLayer(store, price_of=lambda call: price), "budget")):
        c = client(srv, url, layer, routes=routes)
        try:
            assert await call(c, key.id, model="r") == expect
        finally:
            await c.aclose()
    assert len(srv.requests) == 1
