"""The local batch runner's throughput against a plain ``asyncio.gather`` + semaphore.

Both sides send the same N small chat completions through one ``plugbay.Client``
(ledger on, as by default) to ``bench/upstream.py`` run as a separate process on
127.0.0.1, ``--concurrency`` at a time:

* ``runner``: ``client.abatch(requests)`` (a generator in, results out; each call tagged
  with its custom_id in the ledger, the window, pacing and per-item results included);
* ``gather``: ``asyncio.gather`` over ``client.acomplete`` under an ``asyncio.Semaphore``
  (all N coroutines created up front), the loop people write by hand.

Rounds alternate which side goes first, so drift hits both alike; the figure is the
median requests per second of each side, the runner's overhead as the median over
rounds of gather/runner (goal: <= 5%), and the CPU this process spent per request
(steadier on a shared machine than wall time).
Run: ``.venv/bin/python bench/batch_overhead.py [--requests 10000] [--rounds 5]``;
``--quick`` is 2,000 requests x 3 rounds. ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from routing_overhead import upstream

import plugbay

MODEL = "openai/gpt-4o-mini"


def requests(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"custom_id": f"r{i}", "model": MODEL,
               "messages": [{"role": "user", "content": f"say {i}"}], "max_tokens": 16}


async def with_runner(client: plugbay.Client, n: int, concurrency: int) -> int:
    failed = 0
    async for result in client.abatch(requests(n), concurrency=concurrency, progress=False):
        failed += not result.ok
    return failed


async def with_gather(client: plugbay.Client, n: int, concurrency: int) -> int:
    sem = asyncio.Semaphore(concurrency)
    failed = 0

    async def one(item: dict[str, Any]) -> None:
        nonlocal failed
        async with sem:
            try:
                await client.acomplete(item["model"], item["messages"], max_tokens=16)
            except plugbay.errors.PlugbayError:
                failed += 1

    await asyncio.gather(*(one(item) for item in requests(n)))
    return failed


async def measure(port: int, tmp: str, n: int, rounds: int, concurrency: int,
                  ) -> dict[str, Any]:
    config = {"providers": {"openai": {"api_key": "sk-bench-0000000000",
                                       "base_url": f"http://127.0.0.1:{port}/v1"}},
              "ledger": {"path": os.path.join(tmp, "ledger.db")}}
    sides = {"runner": with_runner, "gather": with_gather}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}  # this process, us/request
    async with plugbay.Client(config, env={"HOME": tmp}) as client:
        for fn in sides.values():  # warm up: connections, imports, the ledger's tables
            await fn(client, min(n, 500), concurrency)
        for r in range(rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for name in order:
                t0, c0 = time.perf_counter(), time.process_time()
                failed = await sides[name](client, n, concurrency)
                client.ledger.flush()  # type: ignore[union-attr]  # its rows count too
                seconds, busy = time.perf_counter() - t0, time.process_time() - c0
                if failed:
                    raise RuntimeError(f"{name}: {failed} of {n} requests failed")
                rates[name].append(n / seconds)
                cpu[name].append(busy / n * 1e6)
                print(f"  round {r + 1} {name}: {n / seconds:,.0f} req/s, "
                      f"{busy / n * 1e6:.0f} us CPU/request", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in rates.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    # each round's runner against the gather run beside it: drift cancels out
    paired = statistics.median(g / r for r, g in zip(rates["runner"], rates["gather"],
                                                     strict=True))
    return {"requests": n, "rounds": rounds, "concurrency": concurrency,
            "runner_rps": med["runner"], "gather_rps": med["gather"],
            "overhead_pct": (paired - 1) * 100,
            "runner_cpu_us": med_cpu["runner"], "gather_cpu_us": med_cpu["gather"],
            "cpu_overhead_pct": (med_cpu["runner"] / med_cpu["gather"] - 1) * 100,
            "rates": rates, "cpu_us": cpu, "loadavg": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--quick", action="store_true", help="2,000 requests x 3 rounds")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    if args.quick:
        args.requests, args.rounds = 2000, 3
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = upstream(tmp)
        try:
            doc = asyncio.run(measure(port, tmp, args.requests, args.rounds, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"batch runner, {doc['requests']:,} requests x {doc['rounds']} rounds, "
          f"{doc['concurrency']} in flight: runner {doc['runner_rps']:,.0f} req/s, "
          f"asyncio.gather + semaphore {doc['gather_rps']:,.0f} req/s; overhead "
          f"{doc['overhead_pct']:+.1f}% (median of paired rounds; goal <= 5%), by CPU "
          f"{doc['runner_cpu_us']:.0f} vs {doc['gather_cpu_us']:.0f} us/request "
          f"({doc['cpu_overhead_pct']:+.1f}%)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
