"""Budgets: reservation under concurrency, hard refusal, downgrade, soft thresholds,
scopes, the router's budget filter, and spend carried over from the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.cost.budgets import BudgetEvent, estimate_cost
from plugbay.cost.budgets.spec import parse_budgets
from plugbay.testing.server import FakeServer
from plugbay.types import Price, Request, to_messages

from .conftest import chat, make, ok, sse_ok

pytestmark = pytest.mark.timeout(60)
PRICES = {"openai/gpt-4o-mini": {"input": 1.0, "output": 2.0},
          "openai/cheap": {"input": 0.1, "output": 0.2},
          "a/gpt-4o-mini": {"input": 1.0, "output": 2.0},
          "b/gpt-4o-mini": {"input": 1.0, "output": 2.0}}
USAGE = {"input": 10, "output": 50}  # 10 * 1 + 50 * 2 = 110e-6 per call
ACTUAL = 110e-6


def budget_client(srv: FakeServer, db: Path | None, budgets: dict[str, Any],
                  **kw: Any) -> plugbay.Client:
    return make(srv, db, prices=PRICES, budgets=budgets, **kw)


async def test_200_concurrent_calls_cannot_overspend(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok(usage=USAGE, delay=0.05))
    limit = 0.005
    client = budget_client(srv, db, {"tight": {"scope": "global", "limit": limit}})
    request = Request(model="gpt-4o-mini", messages=to_messages("hi"), max_tokens=100)
    estimate = estimate_cost(request, client.price("openai/gpt-4o-mini"), 1024)
    assert estimate >= ACTUAL  # the estimate is an upper bound here

    async def one() -> str:
        try:
            await client.acomplete("openai/gpt-4o-mini", "hi", max_tokens=100)
            return "ok"
        except errors.BudgetExceededError:
            return "refused"

    results = await asyncio.gather(*(one() for _ in range(200)))
    # keep calling until the budget refuses: the rest of the budget gets used
    while True:
        try:
            await client.acomplete("openai/gpt-4o-mini", "hi", max_tokens=100)
            results.append("ok")
        except errors.BudgetExceededError as exc:
            assert exc.budget == "tight" and exc.limit == limit
            break
    await client.aclose()
    done = results.count("ok")
    assert 1 <= done < 200 and results.count("refused") >= 150
    assert len(srv.requests) == done  # a refused call never reaches the provider
    assert client.ledger is not None
    spent = sum(r.cost or 0 for r in client.ledger.fetch())
    assert spent == pytest.approx(done * ACTUAL)
    assert spent <= limit + estimate
    assert limit - spent < estimate + ACTUAL  # and the budget was really used
    (status,) = await client.budgets.astatus()  # type: ignore[union-attr]
    assert status.spent == pytest.approx(spent) and status.reserved == pytest.approx(0)


def test_downgrade_to_a_cheaper_model(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    budgets = {"mini": {"scope": "model:openai/gpt-4o-mini", "limit": 0.0003,
                        "downgrade_to": "openai/cheap"}}
    with budget_client(srv, db, budgets) as client:
        models = [client.complete("openai/gpt-4o-mini", "hi", max_tokens=10).model
                  for _ in range(5)]
        sent = [r.json()["model"] for r in srv.requests]
        assert client.ledger is not None
        rows = client.ledger.fetch()
    # 2 calls spend 220e-6; the 3rd's estimate (34e-6) still fits under 300e-6, its actual
    # cost (110e-6) overshoots by less than one call; from then on: the cheaper model
    assert sent[:3] == ["gpt-4o-mini"] * 3 and set(sent[3:]) == {"cheap"}
    assert len(models) == 5
    assert rows[-1].model == "cheap" and rows[-1].tags == {"downgraded_from":
                                                             "openai/gpt-4o-mini"}


def test_soft_budget_calls_back_at_thresholds_and_never_refuses(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    events: list[BudgetEvent] = []
    budgets = {"watch": {"scope": "provider:openai", "limit": 10 * ACTUAL, "mode": "soft",
                         "thresholds": [0.5, 0.8, 1.0]}}
    with budget_client(srv, None, budgets) as client:
        assert client.budgets is not None
        client.budgets.on_threshold(events.append)
        for _ in range(12):
            client.complete("openai/gpt-4o-mini", "hi")
    assert [e.threshold for e in events] == [0.5, 0.8, 1.0]
    assert events[0].spent == pytest.approx(5 * ACTUAL)
    assert len(srv.requests) == 12


def test_tag_and_route_scopes(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    budgets = {"agent-x": {"scope": "tag:agent=x", "limit": 1.5 * ACTUAL, "mode": "hard"}}
    with budget_client(srv, None, budgets) as client:
        client.complete("openai/gpt-4o-mini", "hi", tags={"agent": "x"}, max_tokens=50)
        with pytest.raises(errors.BudgetExceededError, match="agent-x"):
            client.complete("openai/gpt-4o-mini", "hi", tags={"agent": "x"}, max_tokens=50)
        client.complete("openai/gpt-4o-mini", "hi", tags={"agent": "y"}, max_tokens=50)
        client.complete("openai/gpt-4o-mini", "hi", max_tokens=50)


def test_router_filter_skips_targets_over_budget(srv: FakeServer) -> None:
    srv.add("POST", chat("a"), ok(usage=USAGE))
    srv.add("POST", chat("b"), ok(usage=USAGE))
    routes = {"r": {"strategy": "priority", "targets": ["a/gpt-4o-mini", "b/gpt-4o-mini"]}}
    budgets = {"a-cap": {"scope": "provider:a", "limit": 1.5 * ACTUAL},
               "route-cap": {"scope": "route:r", "limit": 3.5 * ACTUAL}}
    with budget_client(srv, None, budgets, providers=("a", "b"), routes=routes) as client:
        got = [client.complete("r", "hi", max_tokens=50).provider for _ in range(3)]
        assert got == ["a", "b", "b"]
        assert [r.path.split("/")[1] for r in srv.requests] == ["a", "b", "b"]
        with pytest.raises(errors.BudgetExceededError, match="route-cap"):
            client.complete("r", "hi", max_tokens=50)


def test_routed_streams_count_on_route_and_provider_budgets(srv: FakeServer) -> None:
    srv.add("POST", chat("a"), sse_ok(["x"], usage=USAGE))
    routes = {"r": {"strategy": "priority", "targets": ["a/gpt-4o-mini"]}}
    budgets = {"route-cap": {"scope": "route:r", "limit": 2.5 * ACTUAL},
               "a-soft": {"scope": "provider:a", "limit": 1.0, "mode": "soft"}}
    with budget_client(srv, None, budgets, providers=("a",), routes=routes) as client:
        for _ in range(2):
            client.stream("r", "hi", max_tokens=50).get_completion()
        with pytest.raises(errors.BudgetExceededError, match="route-cap"):
            client.stream("r", "hi", max_tokens=50).get_completion()
        assert client.budgets is not None
        status = {s.name: s for s in client._runner.run(client.budgets.astatus())}
    assert status["route-cap"].spent == pytest.approx(2 * ACTUAL)
    assert status["a-soft"].spent == pytest.approx(2 * ACTUAL)  # settled once known
    assert len(srv.requests) == 2


def test_streams_reserve_and_settle(srv: FakeServer) -> None:
    srv.add("POST", chat(), sse_ok(["a"], usage=USAGE))
    with budget_client(srv, None, {"g": {"limit": 2.5 * ACTUAL}}) as client:
        for _ in range(2):
            client.stream("openai/gpt-4o-mini", "hi", max_tokens=50).get_completion()
        with pytest.raises(errors.BudgetExceededError):
            client.stream("openai/gpt-4o-mini", "hi", max_tokens=50).get_completion()
    assert len(srv.requests) == 2


def test_spend_is_carried_over_from_the_ledger(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), ok(usage=USAGE))
    with make(srv, db, prices=PRICES) as client:  # no budget yet: just spending
        for _ in range(3):
            client.complete("openai/gpt-4o-mini", "hi")
    budgets = {"day": {"scope": "provider:openai", "limit": 3.5 * ACTUAL}}
    with budget_client(srv, db, budgets) as client:  # a new process, in effect
        with pytest.raises(errors.BudgetExceededError):
            client.complete("openai/gpt-4o-mini", "hi", max_tokens=50)
        assert client.budgets is not None
        (status,) = client._runner.run(client.budgets.astatus())
        assert status.spent == pytest.approx(3 * ACTUAL) and status.period.count("-") == 2


def test_budget_config_errors() -> None:
    with pytest.raises(errors.ConfigError, match=r"budgets\.x\.scope"):
        parse_budgets({"x": {"scope": "team:a", "limit": 1}})
    with pytest.raises(errors.ConfigError, match=r"budgets\.x\.limit"):
        parse_budgets({"x": {"limit": "lots"}})
    with pytest.raises(errors.ConfigError, match="downgrade_to"):
        parse_budgets({"x": {"limit": 1, "on_exceed": "downgrade"}})
    budgets, settings = parse_budgets({"estimate_output_tokens": 256,
                                       "m": {"limit": 2, "period": "monthly", "mode": "soft"}})
    assert settings == {"estimate_output_tokens": 256}
    (b,) = budgets
    assert (b.period, b.hard, b.kind) == ("monthly", False, "global")
    assert b.key(1.7e9 + 86400 * 10).endswith(":2023-11")


def test_error_is_exported_and_a_quota_error() -> None:
    assert issubclass(plugbay.BudgetExceededError, plugbay.QuotaExceededError)
    price = Price(input=1.0, output=2.0, as_of="2026-11-01", source="t")  # type: ignore[arg-type]
    req = Request(model="m", messages=to_messages("x" * 300), max_tokens=1000)
    assert estimate_cost(req, price, 1024) > (100 * 1 + 1000 * 2) / 1e6


def test_streams_downgrade_too(srv: FakeServer, db: Path) -> None:
    srv.add("POST", chat(), sse_ok(["x"], usage=USAGE))
    budgets = {"mini": {"scope": "model:openai/gpt-4o-mini", "limit": 2.5 * ACTUAL,
                        "downgrade_to": "openai/cheap"}}
    with budget_client(srv, db, budgets) as client:
        got = []
        for _ in range(4):
            with client.stream("openai/gpt-4o-mini", "hi", max_tokens=50) as s:
                text = "".join(e.text for e in s if e.type == "text")
                assert s.completion is not None and text == "x"
                got.append((s.completion.model, round(s.completion.cost.total, 9)))  # type: ignore[union-attr]
        assert client.ledger is not None
        rows = client.ledger.fetch()
    cheap = round(10 * 0.1e-6 + 50 * 0.2e-6, 9)
    assert got == [("gpt-4o-mini", ACTUAL)] * 2 + [("cheap", cheap)] * 2
    assert [r.json()["model"] for r in srv.requests] == ["gpt-4o-mini"] * 2 + ["cheap"] * 2
    assert [(r.model, r.stream) for r in rows] == [("gpt-4o-mini", True)] * 2 + [
        ("cheap", True)] * 2
    assert rows[-1].tags == {"downgraded_from": "openai/gpt-4o-mini"}


def test_routed_streams_downgrade_to_another_route(srv: FakeServer) -> None:
    srv.add("POST", chat("a"), sse_ok(["from a"], usage=USAGE))
    srv.add("POST", chat("b"), sse_ok(["from b"], usage=USAGE))
    routes = {"main": {"strategy": "priority", "targets": ["a/gpt-4o-mini"]},
              "spare": {"strategy": "priority", "targets": ["b/gpt-4o-mini"]}}
    budgets = {"main-cap": {"scope": "route:main", "limit": 1.5 * ACTUAL,
                            "downgrade_to": "spare"},
               "a-cap": {"scope": "provider:a", "limit": 100.0}}
    with budget_client(srv, None, budgets, providers=("a", "b"), routes=routes) as client:
        texts = [client.stream("main", "hi", max_tokens=50).get_completion().text
                 for _ in range(3)]
        last = client.stream("main", "hi", max_tokens=50).get_completion()
    assert texts == ["from a", "from b", "from b"]
    assert last.provider == "b" and last.cost is not None


def test_routed_stream_downgrades_when_the_filter_leaves_no_target(srv: FakeServer) -> None:
    srv.add("POST", chat("a"), sse_ok(["from a"], usage=USAGE))
    srv.add("POST", chat("b"), sse_ok(["from b"], usage=USAGE))
    routes = {"main": {"strategy": "priority", "targets": ["a/gpt-4o-mini"]},
              "spare": {"strategy": "priority", "targets": ["b/gpt-4o-mini"]}}
    budgets = {"a-cap": {"scope": "provider:a", "limit": 1.5 * ACTUAL, "downgrade_to": "spare"}}
    with budget_client(srv, None, budgets, providers=("a", "b"), routes=routes) as client:
        texts = [client.stream("main", "hi", max_tokens=50).get_completion().text
                 for _ in range(3)]
        assert client.ledger is None
    assert texts == ["from a", "from b", "from b"]
    assert [r.path.split("/")[1] for r in srv.requests] == ["a", "b", "b"]


def test_budgets_without_shared_state_warn_once(srv: FakeServer, db: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Each process enforces a memory-backed budget alone: said once, with the fix."""
    srv.add("POST", chat(), ok())
    budget = {"day": {"scope": "global", "period": "daily", "limit": 5.0}}
    with caplog.at_level("WARNING", logger="plugbay.budgets"), \
            budget_client(srv, db, budget) as c:
        c.complete("openai/gpt-4o-mini", "hi")
        c.complete("openai/gpt-4o-mini", "hi")
    said = [r.getMessage() for r in caplog.records if "this process alone" in r.getMessage()]
    assert len(said) == 1 and "backend = \"redis\"" in said[0] and "day" in said[0]
