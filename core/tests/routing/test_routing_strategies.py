"""Each strategy as a unit, on hand-built targets (no network)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest

from plugbay.routing.breaker import CircuitBreaker
from plugbay.routing.routes import parse_route
from plugbay.routing.state import Call, CompiledRoute, RouteTarget, TargetState
from plugbay.routing.strategies import (
    STRATEGIES,
    Strategy,
    Weighted,
    make_strategy,
    needs_of,
    register_strategy,
)
from plugbay.types import ImagePart, Message, ModelInfo, Price, Request, ResponseFormat, Tool

pytestmark = pytest.mark.timeout(20)


class FakeFacts:
    def __init__(self, infos: dict[str, ModelInfo], prices: dict[str, Price | None]) -> None:
        self.infos, self.prices = infos, prices

    def facts(self, t: RouteTarget) -> ModelInfo | None:
        return self.infos.get(t.key)

    def price(self, t: RouteTarget) -> Price | None:
        return self.prices.get(t.key)


def price(inp: float, out: float) -> Price:
    return Price(input=inp, output=out, as_of=dt.date(2026, 11, 1), source="test")


def build(strategy: str, targets: list[Any], facts: Any = None, **fields: Any,
          ) -> CompiledRoute:
    settings = parse_route("r", {"strategy": strategy, "targets": targets, **fields},
                           strategies=STRATEGIES)
    rts = [RouteTarget(t, TargetState(t.model, CircuitBreaker(t.model)), i)
           for i, t in enumerate(settings.targets)]
    return CompiledRoute("r", settings, rts, make_strategy(settings, facts), 3)


def call(route: CompiledRoute, prompt: str = "hi", stream: bool = False, key: str | None = None,
         **req: Any) -> Call:
    return Call(route, Request(model="m", messages=[Message.user(prompt)], **req), stream, key)


def keys(ordered: list[RouteTarget]) -> list[str]:
    return [t.key for t in ordered]


def test_priority_keeps_route_order() -> None:
    r = build("priority", ["a/m", "b/m", "c/m"])
    ordered, reason = r.strategy.order(r.targets, call(r))
    assert keys(ordered) == ["a/m", "b/m", "c/m"] and reason == "priority order"


def test_round_robin_rotates() -> None:
    r = build("round_robin", ["a/m", "b/m", "c/m"])
    firsts = [keys(r.strategy.order(r.targets, call(r))[0])[0] for _ in range(6)]
    assert firsts == ["a/m", "b/m", "c/m"] * 2
    ordered, _ = r.strategy.order(r.targets, call(r))
    assert sorted(keys(ordered)) == ["a/m", "b/m", "c/m"]  # the rest follow as fallbacks


def test_weighted_follows_weights() -> None:
    r = build("weighted", [{"model": "a/m", "weight": 3}, {"model": "b/m", "weight": 1},
                           {"model": "c/m", "weight": 0}])
    r.strategy = Weighted(r.settings, rand=random.Random(7))
    counts = Counter(keys(r.strategy.order(r.targets, call(r))[0])[0] for _ in range(4000))
    assert counts["c/m"] == 0
    assert 0.70 < counts["a/m"] / 4000 < 0.80


def test_least_latency_uses_ewma_and_ttft_for_streams() -> None:
    r = build("least_latency", ["a/m", "b/m", "c/m"])
    a, b, c = r.targets
    for v in (0.5, 0.5):
        a.state.observe(v)
    b.state.observe(0.1)
    c.state.observe(0.3)
    ordered, reason = r.strategy.order(r.targets, call(r))
    assert keys(ordered) == ["b/m", "c/m", "a/m"] and "latency" in reason
    a.state.observe_ttft(0.01)
    b.state.observe_ttft(0.2)
    ordered, reason = r.strategy.order(r.targets, call(r, stream=True))
    assert keys(ordered)[0] == "a/m" and "ttft" in reason
    b.state.observe(1.0)  # EWMA moves toward the new sample, alpha 0.3
    assert b.state.latency == pytest.approx(0.1 + 0.3 * 0.9)


def test_least_latency_explores_unmeasured_targets() -> None:
    r = build("least_latency", ["a/m", "b/m"])
    r.targets[0].state.observe(0.01)
    ordered, reason = r.strategy.order(r.targets, call(r))
    assert keys(ordered)[0] == "b/m" and "unmeasured" in reason


def test_least_busy_picks_fewest_in_flight() -> None:
    r = build("least_busy", ["a/m", "b/m", "c/m"])
    r.targets[0].state.inflight, r.targets[1].state.inflight, r.targets[2].state.inflight = 4, 1, 2
    assert keys(r.strategy.order(r.targets, call(r))[0]) == ["b/m", "c/m", "a/m"]


def test_cost_picks_cheapest_that_meets_needs() -> None:
    infos = {
        "a/small": ModelInfo(id="small", provider="a", context_window=1000, supports_tools=True),
        "b/cheap": ModelInfo(id="cheap", provider="b", context_window=100_000,
                             supports_tools=False),
        "c/big": ModelInfo(id="big", provider="c", context_window=200_000, supports_tools=True),
        "d/pricey": ModelInfo(id="pricey", provider="d", context_window=200_000),
    }
    prices = {"a/small": price(0.1, 0.1), "b/cheap": price(0.2, 0.4), "c/big": price(1, 4),
              "d/pricey": price(5, 20)}
    r = build("cost", list(infos), FakeFacts(infos, prices))
    ordered, reason = r.strategy.order(r.targets, call(r))
    assert keys(ordered) == ["a/small", "b/cheap", "c/big", "d/pricey"]
    long = "x" * 8000  # ~2000 tokens: too big for a/small's 1000 window
    ordered, reason = r.strategy.order(r.targets, call(r, long))
    assert keys(ordered) == ["b/cheap", "c/big", "d/pricey"] and "a/small: context" in reason
    tool = Tool(name="f")
    ordered, reason = r.strategy.order(r.targets, call(r, long, tools=[tool]))
    assert keys(ordered) == ["c/big", "d/pricey"] and "b/cheap: no tools" in reason


def test_cost_unknown_price_goes_last_and_nothing_fits() -> None:
    infos = {"a/m": ModelInfo(id="m", provider="a", context_window=10)}
    r = build("cost", ["a/m", "b/m", "c/m"],
              FakeFacts(infos, {"c/m": price(1, 1)}))
    ordered, _ = r.strategy.order(r.targets, call(r))
    assert keys(ordered) == ["c/m", "b/m"]
    ordered, reason = r.strategy.order(r.targets[:1], call(r))
    assert ordered == [] and "no target meets" in reason


def test_needs_estimate() -> None:
    req = Request(model="m", max_tokens=100, messages=[
        Message.user("x" * 400, ImagePart(url="https://img")),
    ], response_format=ResponseFormat(schema={"type": "object"}))
    needs = needs_of(req)
    assert needs.vision and needs.json_schema and not needs.tools
    assert needs.output_tokens == 100
    assert 1000 < needs.input_tokens < 1200


def test_capability_scored_uses_weights() -> None:
    targets = [{"model": "a/m", "scores": {"coding": 0.9, "reasoning": 0.2}},
               {"model": "b/m", "scores": {"coding": 0.3, "reasoning": 0.9}}]
    coder = build("capability", targets, weights={"coding": 1.0, "reasoning": 0.2})
    thinker = build("capability", targets, weights={"coding": 0.2, "reasoning": 1.0})
    assert keys(coder.strategy.order(coder.targets, call(coder))[0])[0] == "a/m"
    assert keys(thinker.strategy.order(thinker.targets, call(thinker))[0])[0] == "b/m"


def test_capability_derives_speed_and_cost() -> None:
    prices = {"a/m": price(10, 10), "b/m": price(1, 1)}
    r = build("capability", ["a/m", "b/m"], FakeFacts({}, prices),
              weights={"speed": 1.0, "cost": 1.0})
    r.targets[0].state.observe(0.1)
    r.targets[1].state.observe(0.12)
    ordered, _ = r.strategy.order(r.targets, call(r))
    assert keys(ordered)[0] == "b/m"  # a bit slower, ten times cheaper


def test_ab_split_is_deterministic_and_weighted() -> None:
    r = build("ab", [{"model": "a/m", "arm": "control", "weight": 1},
                     {"model": "b/m", "arm": "treatment", "weight": 1}], experiment="exp1")
    arms = {}
    for i in range(2000):
        c = call(r, key=f"user-{i}")
        ordered, reason = r.strategy.order(r.targets, c)
        arms[i] = c.arm
        assert ordered[0].arm == c.arm and c.arm in reason
    share = sum(1 for a in arms.values() if a == "control") / 2000
    assert 0.45 < share < 0.55
    for i in range(50):  # the same key always lands in the same arm
        c = call(r, key=f"user-{i}")
        r.strategy.order(r.targets, c)
        assert c.arm == arms[i]
    other = build("ab", [{"model": "a/m", "arm": "control"}, {"model": "b/m", "arm": "treatment"}],
                  experiment="exp2")
    moved = 0
    for i in range(200):
        c = call(other, key=f"user-{i}")
        other.strategy.order(other.targets, c)
        moved += c.arm != arms[i]
    assert moved > 50  # another experiment name reshuffles


def test_ab_arm_unavailable_falls_back_but_keeps_arm() -> None:
    r = build("ab", [{"model": "a/m", "arm": "control"}, {"model": "b/m", "arm": "treatment"}])
    for i in range(100):
        c = call(r, key=f"k{i}")
        r.strategy.order(r.targets, c)
        if c.arm == "control":
            break
    ordered, reason = r.strategy.order([r.targets[1]], c)
    assert keys(ordered) == ["b/m"] and "unavailable" in reason and c.arm == "control"


def test_ab_without_key_hashes_the_prompt() -> None:
    r = build("ab", ["a/m", "b/m"])
    first = {p: keys(r.strategy.order(r.targets, call(r, p))[0])[0] for p in "abcdefgh"}
    again = {p: keys(r.strategy.order(r.targets, call(r, p))[0])[0] for p in "abcdefgh"}
    assert first == again


def test_registry_takes_new_strategies() -> None:
    @register_strategy("reversed_for_test")
    class Reverse(Strategy):
        def order(self, targets, call):  # type: ignore[no-untyped-def]
            return list(reversed(targets)), "reversed"

    try:
        r = build("reversed_for_test", ["a/m", "b/m"])
        assert keys(r.strategy.order(r.targets, call(r))[0]) == ["b/m", "a/m"]
    finally:
        STRATEGIES.pop("reversed_for_test")
