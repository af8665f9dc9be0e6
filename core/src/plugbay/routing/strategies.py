"""Routing strategies: each orders a route's available targets for one call.

A strategy gets the targets whose circuit is not open (and which passed the
router's filters), in route order, and returns them in the order to try (first =
primary, the rest = fallbacks) with a short reason for the trace. A strategy never
sees an open circuit: the router takes those out first.

New strategies register by name::

    @register_strategy("mine")
    class Mine(Strategy):
        def order(self, targets, call):
            return targets, "as listed"
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from plugbay.routing.routes import RouteSettings
    from plugbay.routing.state import Call, RouteTarget
    from plugbay.types import ModelInfo, Price, Request

__all__ = ["STRATEGIES", "Facts", "Needs", "Strategy", "canonical_name", "needs_of",
           "register_strategy"]

Ordered = tuple[list["RouteTarget"], str]


class Facts(Protocol):
    """Where cost- and capability-aware strategies read model facts and prices."""

    def facts(self, target: RouteTarget) -> ModelInfo | None: ...

    def price(self, target: RouteTarget) -> Price | None: ...


class Strategy:
    name: ClassVar[str] = ""

    def __init__(self, settings: RouteSettings, facts: Facts | None = None) -> None:
        self.settings = settings
        self.facts = facts

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        raise NotImplementedError


STRATEGIES: dict[str, type[Strategy]] = {}


def canonical_name(name: str) -> str:
    """``round-robin`` and ``round_robin`` name the same strategy (the docs use both)."""
    return name.strip().replace("-", "_")


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    name = canonical_name(name)

    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        STRATEGIES[name] = cls
        return cls
    return deco


@register_strategy("priority")
class Priority(Strategy):
    """Targets in the order listed; later ones are fallbacks."""

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        return targets, "priority order"


@register_strategy("round_robin")
class RoundRobin(Strategy):
    """Each call starts at the next target; the others follow as fallbacks."""

    def __init__(self, settings: RouteSettings, facts: Facts | None = None) -> None:
        super().__init__(settings, facts)
        self._counter = itertools.count()

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        n = len(targets)
        if n < 2:
            return targets, "only target"
        i = next(self._counter) % n
        return targets[i:] + targets[:i], f"turn {i} of {n}"


@register_strategy("weighted")
class Weighted(Strategy):
    """Random pick by weight; the others follow in route order."""

    def __init__(self, settings: RouteSettings, facts: Facts | None = None,
                 rand: random.Random | None = None) -> None:
        super().__init__(settings, facts)
        self.rand = rand or random.Random()

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        weights = [t.weight for t in targets]
        if len(targets) < 2 or not any(weights):
            return targets, "only target" if len(targets) < 2 else "no weights left"
        pick = self.rand.choices(targets, weights)[0]
        return [pick, *(t for t in targets if t is not pick)], \
            f"weighted pick ({pick.weight:g} of {sum(weights):g})"


@register_strategy("least_latency")
class LeastLatency(Strategy):
    """Lowest EWMA latency (time to first event for streams); unmeasured targets first."""

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        if call.stream:
            def key(t: RouteTarget) -> float:
                v = t.state.ttft if t.state.ttft is not None else t.state.latency
                return -1.0 if v is None else v
        else:
            def key(t: RouteTarget) -> float:
                v = t.state.latency
                return -1.0 if v is None else v
        ordered = sorted(targets, key=key)
        v = key(ordered[0])
        what = "ttft" if call.stream else "latency"
        return ordered, (f"lowest {what} EWMA {v * 1000:.1f} ms" if v >= 0
                         else "unmeasured target explored first")


@register_strategy("least_busy")
class LeastBusy(Strategy):
    """Fewest calls in flight right now; ties keep route order."""

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        ordered = sorted(targets, key=lambda t: t.state.inflight)
        return ordered, f"{ordered[0].state.inflight} in flight"


# ------------------------------------------------------------ request needs


class Needs:
    """What a request needs from a model, estimated without a tokenizer."""

    __slots__ = ("input_tokens", "json_schema", "output_tokens", "tools", "vision")

    def __init__(self, input_tokens: int, output_tokens: int, tools: bool, vision: bool,
                 json_schema: bool) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.tools = tools
        self.vision = vision
        self.json_schema = json_schema

    @property
    def context(self) -> int:
        return self.input_tokens + self.output_tokens


_IMAGE_CHARS = 4 * 1000  # an image counts as about a thousand tokens
_DEFAULT_OUTPUT = 512  # assumed answer length when max_tokens is not given


def needs_of(request: Request) -> Needs:
    chars, vision = 0, False
    for m in request.messages:
        content = m.content
        if isinstance(content, str):
            chars += len(content)
        elif content:
            for part in content:
                if part.type == "text":
                    chars += len(part.text)
                else:
                    vision = True
                    chars += _IMAGE_CHARS
        for call in m.tool_calls or ():
            chars += len(call.arguments) + len(call.name)
    for tool in request.tools or ():
        chars += len(tool.name) + len(tool.description or "") + len(str(tool.parameters))
    fmt = request.response_format
    return Needs(chars // 4 + 1, request.max_tokens or _DEFAULT_OUTPUT, bool(request.tools),
                 vision, fmt is not None and fmt.type == "json_schema")


def unmet(needs: Needs, info: ModelInfo | None) -> str | None:
    """Why ``info`` cannot serve ``needs`` (only facts known to be insufficient count)."""
    if info is None:
        return None
    if info.context_window is not None and needs.context > info.context_window:
        return f"context {info.context_window} < ~{needs.context} tokens"
    if needs.tools and info.supports_tools is False:
        return "no tools"
    if needs.vision and info.supports_vision is False:
        return "no vision"
    if needs.json_schema and info.supports_json_schema is False:
        return "no JSON schema"
    return None


def estimated_cost(needs: Needs, price: Price | None) -> float | None:
    if price is None or price.input is None or price.output is None:
        return None
    return (needs.input_tokens * price.input + needs.output_tokens * price.output) / 1e6


@register_strategy("cost")
class CostOptimised(Strategy):
    """The cheapest target that meets the request's needs (window, tools, vision, JSON
    schema), by the estimated cost of this request; unknown prices go last."""

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        facts = self.facts
        needs = call.needs = call.needs or needs_of(call.request)
        fit: list[tuple[float, int, RouteTarget]] = []
        out: list[str] = []
        for t in targets:
            why = unmet(needs, facts.facts(t) if facts else None)
            if why:
                out.append(f"{t.key}: {why}")
                continue
            cost = estimated_cost(needs, facts.price(t) if facts else None)
            fit.append((float("inf") if cost is None else cost, t.index, t))
        fit.sort(key=lambda x: (x[0], x[1]))
        ordered = [t for _, _, t in fit]
        if not ordered:
            return [], "no target meets the request: " + "; ".join(out)
        best = fit[0][0]
        reason = (f"cheapest meeting needs: {ordered[0].key} (~${best:.6f})" if best != float("inf")
                  else f"no known price; {ordered[0].key} by route order")
        if out:
            reason += "; excluded " + "; ".join(out)
        return ordered, reason


@register_strategy("capability")
class CapabilityScored(Strategy):
    """Highest weighted score. Weights (coding, reasoning, speed, cost) come from the
    route; scores (0..1) from each target's ``scores``. ``speed`` and ``cost`` default
    to scores derived from the measured latency and the known price."""

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        weights = self.settings.weights or {"coding": 1.0, "reasoning": 1.0}
        derived = self._derived(targets, call) if ("speed" in weights or "cost" in weights) \
            else {}
        scored = []
        for t in targets:
            total = 0.0
            for k, w in weights.items():
                s = t.scores.get(k)
                if s is None:
                    s = derived.get((k, t.index), 0.5)
                total += w * s
            scored.append((-total, t.index, t))
        scored.sort(key=lambda x: (x[0], x[1]))
        return [t for _, _, t in scored], f"best score {-scored[0][0]:.3f}: {scored[0][2].key}"

    def _derived(self, targets: list[RouteTarget], call: Call) -> dict[tuple[str, int], float]:
        out: dict[tuple[str, int], float] = {}
        lat = {t.index: t.state.latency for t in targets if t.state.latency}
        if lat:
            fastest = min(lat.values())
            out.update({("speed", i): fastest / v for i, v in lat.items()})
        if self.facts is not None:
            needs = call.needs = call.needs or needs_of(call.request)
            costs = {t.index: estimated_cost(needs, self.facts.price(t)) for t in targets}
            known = {i: c for i, c in costs.items() if c}
            if known:
                cheapest = min(known.values())
                out.update({("cost", i): cheapest / c for i, c in known.items()})
        return out


def _default_key(request: Request) -> str:
    """The A/B request key when the call gave no ``route_key``: ``user``, else metadata
    ``ab_key``, else the prompt text."""
    if request.user:
        return request.user
    meta = request.metadata
    if meta and "ab_key" in meta:
        return meta["ab_key"]
    return "\x1f".join(m.text() for m in request.messages)


def _unit(experiment: str, key: str) -> float:
    digest = hashlib.blake2b(f"{experiment}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


@register_strategy("ab")
class ABSplit(Strategy):
    """A deterministic split: a hash of the experiment name and the request key picks the
    arm (shares = target weights, over all targets so an arm never moves while another
    circuit is open). If the arm's target is unavailable the others follow as fallbacks,
    and the trace says so."""

    def order(self, targets: list[RouteTarget], call: Call) -> Ordered:
        everyone = call.route.targets
        total = sum(t.weight for t in everyone)
        key = call.key if call.key is not None else _default_key(call.request)
        point = _unit(call.route.experiment, key) * total
        arm = everyone[-1]
        acc = 0.0
        for t in everyone:
            acc += t.weight
            if point < acc and t.weight > 0:
                arm = t
                break
        call.arm = arm.arm
        if arm in targets:
            return [arm, *(t for t in targets if t is not arm)], \
                f"experiment {call.route.experiment!r}: arm {arm.arm!r}"
        return targets, f"experiment {call.route.experiment!r}: arm {arm.arm!r} unavailable"


def make_strategy(settings: RouteSettings, facts: Facts | None) -> Strategy:
    cls: Any = STRATEGIES[settings.strategy]
    return cls(settings, facts)  # type: ignore[no-any-return]
