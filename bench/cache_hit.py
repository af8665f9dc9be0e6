"""What a response-cache hit costs: one call through ``CacheLayer`` answered from the
store, from the ``Call`` the client builds to the ``Completion`` (or the replayed
events) it gets back. Targets (issue 12): ≤ 50 µs in memory, ≤ 300 µs with SQLite.

Also shown: the key alone (a short chat, and one with a tool and ``extra``), and the
same call through an empty pipeline with an in-process bottom that answers at once (no
HTTP), so the layer's own share is plain. Each figure is the median over ``--rounds``
rounds of the median call in the round; calls run one after another on one loop.

Run: ``.venv/bin/python bench/cache_hit.py [--calls N] [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from plugbay.cache.key import cache_key
from plugbay.cache.layer import CacheLayer
from plugbay.cache.memory import MemoryStore
from plugbay.cache.sqlite import SQLiteStore
from plugbay.call import Call
from plugbay.pipeline import Pipeline, compose
from plugbay.types import (
    Completion,
    FinishEvent,
    Message,
    Price,
    Request,
    TextDelta,
    Tool,
    Usage,
    UsageEvent,
)

PRICE = Price(input=2.5, output=10.0, as_of=dt.date(2026, 11, 1), source="bench")
ANSWER = ("The sky looks blue because air molecules scatter short blue wavelengths of "
          "sunlight far more than long red ones (Rayleigh scattering), so blue light reaches "
          "your eyes from every direction of the sky.")


class Target:
    """The two things the cache reads of a provider instance."""

    name = "openai"

    def price(self, model: str) -> Price:
        return PRICE


class Bottom:
    """An in-process provider answering at once: the pipeline's floor."""

    async def complete(self, call: Call) -> Completion:
        return Completion(text=ANSWER, model=call.request.model, provider="openai",
                          usage=Usage(input_tokens=24, output_tokens=41), price=PRICE,
                          id="chatcmpl-bench")

    async def stream(self, call: Call) -> AsyncIterator[Any]:
        for word in ANSWER.split(" "):
            yield TextDelta(text=word + " ")
        yield UsageEvent(usage=Usage(input_tokens=24, output_tokens=41))
        yield FinishEvent(reason="stop", raw_reason="stop")


def short_request() -> Request:
    return Request(model="gpt-4o-mini", messages=[Message.system("Be brief."),
                                                  Message.user("Why is the sky blue?")],
                   max_tokens=200, temperature=0.2)


def tool_request() -> Request:
    weather = {"type": "object", "properties": {"city": {"type": "string"}},
               "required": ["city"]}
    return Request(model="gpt-4o-mini", messages=[Message.user("Weather in Paris?")],
                   tools=[Tool(name="weather", parameters=weather)], extra={"top_k": 5})


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


async def timed(n: int, one: Callable[[], Awaitable[Any]]) -> float:
    """The median of ``n`` calls of ``one``, in µs."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        await one()
        samples.append(clock() - t0)
    return median_us(samples)


def key_us(n: int, request: Request) -> float:
    call = Call("openai/gpt-4o-mini", request, target=Target())  # type: ignore[arg-type]
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        cache_key(call, "default")
        samples.append(clock() - t0)
    return median_us(samples)


async def pipeline_us(pipe: Pipeline, n: int, stream: bool) -> float:
    request = short_request()
    target = Target()

    def make() -> Call:
        return Call("openai/gpt-4o-mini", request, stream=stream,
                    target=target)  # type: ignore[arg-type]

    if stream:
        async def one() -> Any:
            return [e async for e in pipe.stream(make())]
    else:
        async def one() -> Any:
            return await pipe.complete(make())

    await one()  # the miss that fills the store
    await one()
    return await timed(n, one)


async def measure(n: int, folder: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    saved: list[float | None] = []
    on_hit = lambda call, completion, cost: saved.append(cost)  # noqa: E731 (the ledger hook)
    out["key, short chat"] = key_us(n, short_request())
    out["key, tool + extra"] = key_us(n, tool_request())
    bare = compose([], Bottom())
    out["no cache: complete"] = await pipeline_us(bare, n, False)
    out["no cache: stream (37 events)"] = await pipeline_us(bare, n // 4, True)
    sqlite = SQLiteStore(folder / "cache.db")
    for label, store in (("memory", MemoryStore()), ("sqlite", sqlite)):
        pipe = compose([CacheLayer(store, on_hit=on_hit)], Bottom())
        out[f"hit, {label}: complete"] = await pipeline_us(pipe, n, False)
        out[f"hit, {label}: stream replay (37 events)"] = await pipeline_us(pipe, n // 4, True)
        saved.clear()
    await sqlite.aclose()
    return out


TARGETS = {"hit, memory: complete": 50.0, "hit, sqlite: complete": 300.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON line, for bench/run")
    args = parser.parse_args()
    gc.freeze()
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            rounds.append(asyncio.run(measure(args.calls, folder)))
    figures = {k: {"median": statistics.median(r[k] for r in rounds),
                   "min": min(r[k] for r in rounds), "max": max(r[k] for r in rounds)}
               for k in rounds[0]}
    if args.json:
        print(json.dumps({"cache_hit_us": figures, "targets_us": TARGETS}))
        return
    print(f"{'µs per call (median of rounds; range)':<44}{'median':>9}{'range':>18}  target")
    for name, f in figures.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else (
            f"≤ {target:g} {'PASS' if f['median'] <= target else 'MISS'}")
        print(f"{name:<44}{f['median']:>9.1f}{f['min']:>9.1f} to {f['max']:<6.1f}  {verdict}")


if __name__ == "__main__":
    main()
