"""The load client of `bench/gateway_bench.py`: the harness's own async client, a
`plugbay.Client` (ledger off, no retries) calling an OpenAI-compatible base URL. plugbay's
client is the cheapest client we measured (docs/performance.md), so what changes between
a direct call and a call through a server is the server. One phase per process, then one
JSON line on stdout:

- seq: one call at a time: latency p50/p90/p99 (microseconds);
- conc: `--conc` calls at a time: requests per second;
- stream: `--stream-conc` streams at a time, each read to its end (the upstream sends 20
  content chunks): streams per second.

Each phase first warms up with its own kind of call (`--warmup` one at a time, then half
a second at full width, so the pool holds its connections before the clock starts) and
then runs for `--seconds`. `calls` counts every call made, warm-ups included (the server's CPU is
divided by it).

    python bench/gateway_load.py --url http://127.0.0.1:4000/v1 --phase conc --seconds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

PROMPT = "hello"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


async def for_seconds(width: int, seconds: float, one: Callable[[], Awaitable[None]],
                      ) -> tuple[int, float]:
    """Run ``one`` ``width`` at a time until ``seconds`` have passed: (calls, elapsed)."""
    clock = time.perf_counter
    done = 0
    deadline = clock() + seconds

    async def worker() -> None:
        nonlocal done
        while clock() < deadline:
            await one()
            done += 1

    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(width)))
    return done, clock() - t0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import plugbay

    client = plugbay.Client({"providers": {"openai": {"api_key": args.key,
                                                      "base_url": args.url}},
                             "ledger": {"enabled": False}, "routing": {"retries": 0},
                             "timeout": 60}, env={})
    model = args.model

    async def complete() -> None:
        await client.acomplete(model, PROMPT)

    async def stream() -> None:
        async with client.astream(model, PROMPT) as s:
            async for _ in s:
                pass

    one, width = {"seq": (complete, 1), "conc": (complete, args.conc),
                  "stream": (stream, args.stream_conc)}[args.phase]
    # A stream is ~20x a call's work: fewer warm-up streams.
    calls = args.warmup if one is complete else max(1, args.warmup // 5)
    try:
        for _ in range(calls):
            await one()
        if args.phase == "seq":
            lat: list[float] = []
            clock = time.perf_counter
            stop = clock() + args.seconds
            while clock() < stop:
                t = clock()
                await complete()
                lat.append(clock() - t)
            return {"phase": "seq", "n": len(lat), "calls": calls + len(lat),
                    "seconds": args.seconds, "p50_us": statistics.median(lat) * 1e6,
                    "p90_us": pct(lat, 0.9) * 1e6, "p99_us": pct(lat, 0.99) * 1e6}
        warm, _ = await for_seconds(width, 0.5, one)  # open the pool to full width
        n, elapsed = await for_seconds(width, args.seconds, one)
        return {"phase": args.phase, "n": n, "calls": calls + warm + n, "seconds": elapsed,
                "per_s": n / elapsed, "width": width}
    finally:
        await client.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--url", required=True, help="base URL, ending in /v1")
    p.add_argument("--model", default="openai/gpt-4o-mini")
    p.add_argument("--key", default="sk-bench")
    p.add_argument("--phase", choices=("seq", "conc", "stream"), default="seq")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--conc", type=int, default=64)
    p.add_argument("--stream-conc", type=int, default=16)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    args = p.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {args.cpu})
        except OSError:
            pass
    sys.stdout.write(json.dumps(asyncio.run(run(args))) + "\n")


if __name__ == "__main__":
    main()
