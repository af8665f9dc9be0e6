"""The router end to end over real sockets: traces, filters, open circuits, active
health probes, and the strategies that read live facts (cost from the plugin's table,
least latency from measured time to first token)."""

from __future__ import annotations

import asyncio
import json

import pytest

from plugbay import errors
from plugbay.routing.router import CircuitOpenError, NoTargetError
from plugbay.testing.server import FakeServer, Reply

from .conftest import client, error, ok, path, sse_ok

pytestmark = pytest.mark.timeout(20)
ROUTE = {"strategy": "priority", "targets": ["a/m", "b/m"], "deadline": 3}


async def test_trace_records_decision_and_attempts(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(503))
    srv.add("POST", path("b"), ok("from b"))
    async with client(srv, {"r": ROUTE}) as c:
        result = await c.acomplete("r", "hi")
    trace = result.trace.to_dict()
    assert trace["route"] == "r" and trace["strategy"] == "priority"
    assert trace["decision"] == ["a/m", "b/m"] and trace["reason"] == "priority order"
    first, second = trace["attempts"]
    assert (first["target"], first["outcome"], first["error"], first["status"]) == \
        ("a/m", "error", "OverloadedError", 503)
    assert (second["target"], second["outcome"], second["error"]) == ("b/m", "ok", None)
    assert first["latency"] > 0 and second["latency"] > 0
    assert trace["elapsed"] >= first["latency"] + second["latency"]
    assert result.trace.target == "b/m"
    dumped = json.loads(result.model_dump_json())["trace"]  # serialisable with the completion
    assert dumped["attempts"][1]["target"] == "b/m" and dumped["reason"] == "priority order"
    assert result.price is None  # model "m" is not in the openai table: unknown, never 0


async def test_filter_hook(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("from a"))
    srv.add("POST", path("b"), ok("from b"))
    async with client(srv, {"r": ROUTE}) as c:
        c.router.filters.append(lambda targets, call: [t for t in targets if t.provider != "a"])
        assert (await c.acomplete("r", "hi")).provider == "b"
        c.router.filters.append(lambda targets, call: [])
        with pytest.raises(NoTargetError) as info:
            await c.acomplete("r", "hi")
        assert "filters left no target" in info.value.trace.reason


async def test_open_circuits_are_skipped_then_refused(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(500))
    srv.add("POST", path("b"), ok("from b"))
    routing = {"breaker": {"threshold": 2, "window": 10, "cooldown": 30}}
    async with client(srv, {"r": ROUTE}, routing=routing) as c:
        for _ in range(2):
            await c.acomplete("r", "hi")
        circuits = {i.key: i for i in c.circuits()}
        assert circuits["a/m"].state == "open" and circuits["a/m"].retry_in > 29
        hits = len(srv.requests)
        result = await c.acomplete("r", "hi")
        assert result.provider == "b" and len(srv.requests) == hits + 1  # a not even tried
        assert result.trace.decision == ["b/m"] and "circuit open: a/m" in result.trace.reason
        c.router.states["b/m"].breaker.trip()
        with pytest.raises(CircuitOpenError) as info:
            await c.acomplete("r", "hi")
        assert info.value.retryable and 0 < info.value.retry_after <= 30


async def test_active_health_probes_feed_breakers(srv: FakeServer) -> None:
    srv.add("GET", "/a/v1/models", error(500))
    srv.add("GET", "/b/v1/models", Reply.json({"object": "list", "data": []}))
    srv.add("POST", path("b"), ok("from b"))
    routing = {"health_interval": 0.1, "breaker": {"cooldown": 60}}
    async with client(srv, {"r": ROUTE}, routing=routing) as c:
        await c.acomplete("r", "hi")  # the first routed call starts the probe task
        for _ in range(40):
            if c.router.states["a/m"].breaker.state == "open":
                break
            await asyncio.sleep(0.05)
        assert c.router.states["a/m"].breaker.state == "open"
        assert c.router.states["b/m"].breaker.state == "closed"
        srv.add("GET", "/a/v1/models", Reply.json({"object": "list", "data": []}))
        await c.router.probe()
        assert c.router.states["a/m"].breaker.available()  # up again: a trial may go
    assert not c.router.probes.tasks  # closing the client stopped the probes


async def test_cost_strategy_reads_the_plugin_table(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("pricey", model="gpt-4.1"))
    srv.add("POST", path("b"), ok("cheap", model="gpt-4o-mini"))
    route = {"strategy": "cost", "targets": ["a/gpt-4.1", "b/gpt-4o-mini"]}
    async with client(srv, {"r": route}) as c:
        result = await c.acomplete("r", "hi")
        assert result.provider == "b" and result.model == "gpt-4o-mini"
        assert "cheapest meeting needs: b/gpt-4o-mini" in result.trace.reason
        assert result.price is not None and result.price.input == 0.15
        assert srv.last.json()["model"] == "gpt-4o-mini"
        huge = "word " * 600_000  # ~750k tokens: only gpt-4.1's 1M window fits
        result = await c.acomplete("r", huge)
        assert result.provider == "a" and "b/gpt-4o-mini: context" in result.trace.reason


async def test_least_latency_learns_from_streams(srv: FakeServer) -> None:
    srv.add("POST", path("a"), sse_ok(["slow"], delay=0.15))
    srv.add("POST", path("b"), sse_ok(["fast"]))
    route = {"strategy": "least_latency", "targets": ["a/m", "b/m"]}
    async with client(srv, {"r": route}, agents={"writer": "r"}) as c:
        answers = []
        for _ in range(4):
            stream = c.astream("agent:writer", "hi")
            answers.append((await stream.get_completion()).provider)
        assert set(answers[:2]) == {"a", "b"}  # both explored first
        assert answers[2:] == ["b", "b"]
        assert c.router.states["a/m"].ttft > c.router.states["b/m"].ttft


async def test_round_robin_and_least_busy_spread_load(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("a", delay=0.1))
    srv.add("POST", path("b"), ok("b", delay=0.1))
    routes = {"rr": {"strategy": "round_robin", "targets": ["a/m", "b/m"]},
              "busy": {"strategy": "least_busy", "targets": ["a/m", "b/m"]}}
    async with client(srv, routes) as c:
        rr = [(await c.acomplete("rr", "hi")).provider for _ in range(4)]
        assert rr == ["a", "b", "a", "b"]
        busy = await asyncio.gather(*(c.acomplete("busy", "hi") for _ in range(10)))
        assert sorted(r.provider for r in busy) == ["a"] * 5 + ["b"] * 5


async def test_ab_arm_recorded(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("a"))
    srv.add("POST", path("b"), ok("b"))
    route = {"strategy": "ab", "experiment": "tone",
             "targets": [{"model": "a/m", "arm": "control"}, {"model": "b/m", "arm": "new"}]}
    async with client(srv, {"r": route}) as c:
        seen = {}
        for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
            result = await c.acomplete("r", "hi", route_key=user)
            again = await c.acomplete("r", "other prompt", user=user)
            assert result.trace.arm == again.trace.arm
            seen[user] = result.trace.arm
            assert {"control": "a", "new": "b"}[result.trace.arm] == result.provider
            assert "route_key" not in srv.last.json()  # never sent upstream
        assert set(seen.values()) == {"control", "new"}


async def test_model_not_found_fails_over_but_bad_request_raises(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(404, "The model m does not exist", code="model_not_found"))
    srv.add("POST", path("b"), ok("from b"))
    async with client(srv, {"r": ROUTE}) as c:
        result = await c.acomplete("r", "hi")
    assert [a.error for a in result.trace.attempts] == ["ModelNotFoundError", None]


def test_sync_complete_and_circuits(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("sync"))
    with client(srv, {"r": ROUTE}) as c:
        assert c.complete("r", "hi").text == "sync"
        assert [i.key for i in c.circuits()] == ["a/m", "b/m"]
        with pytest.raises(errors.PluginError):
            c.complete("unknown-route", "hi")


@pytest.mark.parametrize("strategy", ["priority", "round_robin", "weighted", "least_latency",
                                      "least_busy", "cost", "capability", "ab"])
async def test_every_strategy_skips_open_circuits(srv: FakeServer, strategy: str) -> None:
    srv.add("POST", path("a"), ok("from a"))
    srv.add("POST", path("b"), ok("from b"))
    route = {"strategy": strategy, "targets": ["a/m", "b/m"], "experiment": "x"}
    async with client(srv, {"r": route}) as c:
        c.router.states["a/m"].breaker.trip()
        for i in range(6):
            result = await c.acomplete("r", "hi", route_key=f"k{i}")
            assert result.provider == "b"
            assert result.trace.decision == ["b/m"]
    assert not any(r.path == path("a") for r in srv.requests)
