"""The local batch runner's throughput against a plain ``asyncio.gather`` + semaphore.

Both sides send the same N small chat completions through one ``plugbay.Client``
(ledger on, as by default) to ``bench/upstream.py`` run as a separate process on
127.0.0.1, ``--concurrency`` at a time:

* ``runner``: ``client.abatch(requests)`` (a generator in, results out; each call tagged
  with its custom_id in the ledger, the window, pacing and per-item results included);
* ``gather``: ``asyncio.gather`` over ``client.acomplete`` under an ``asyncio.Semaphore``
  (all N coroutines created up front), the loop people write by hand;
* ``gather_tagged``: the same with the ``custom_id`` ledger tag the runner adds, so what
  the tag costs (in the ledger) and what the runner itself costs can be told apart.

A last measure runs both sides in process against a plugin that answers at once (no
socket, ledger off), so only plugbay's own work is timed: the difference per request is
the runner's own cost. Rounds alternate which side goes first, so drift hits both
alike; the upstream runs on CPU 0 and this process on CPU 1 (as in ``runner.py``). The
figures are the median requests per second of each side and the runner's overhead from them (goal:
<= 5%), the median of each round's own gather/runner ratio, and the CPU this process
spent per request (steadier on a shared machine than wall time).
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
sys.path.insert(0, str(Path(__file__).resolve().parent / "clients"))


def requests(n: int, model: str = MODEL) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"custom_id": f"r{i}", "model": model,
               "messages": [{"role": "user", "content": f"say {i}"}], "max_tokens": 16}


async def with_runner(client: plugbay.Client, n: int, concurrency: int,
                      model: str = MODEL) -> int:
    failed = 0
    async for result in client.abatch(requests(n, model), concurrency=concurrency,
                                      progress=False):
        failed += not result.ok
    return failed


async def with_gather(client: plugbay.Client, n: int, concurrency: int,
                      model: str = MODEL, tagged: bool = False) -> int:
    sem = asyncio.Semaphore(concurrency)
    failed = 0

    async def one(item: dict[str, Any]) -> None:
        nonlocal failed
        tags = {"tags": {"custom_id": item["custom_id"]}} if tagged else {}
        async with sem:
            try:
                await client.acomplete(item["model"], item["messages"], max_tokens=16, **tags)
            except plugbay.errors.PlugbayError:
                failed += 1

    await asyncio.gather(*(one(item) for item in requests(n, model)))
    return failed


async def with_gather_tagged(client: plugbay.Client, n: int, concurrency: int,
                             model: str = MODEL) -> int:
    """gather again, with the custom_id ledger tag the runner adds to each call."""
    return await with_gather(client, n, concurrency, model, tagged=True)


async def in_process(n: int, rounds: int, concurrency: int) -> dict[str, float]:
    """Both sides against a plugin that answers at once (ledger off): only plugbay's own
    work is timed, so the difference is the runner's cost per item."""
    from _echo import Echo

    per: dict[str, list[float]] = {"runner": [], "gather": []}
    sides = {"runner": with_runner, "gather": with_gather}
    async with plugbay.Client({"ledger": {"path": "off"}}, env={}, plugins=[Echo()]) as c:
        for fn in sides.values():
            await fn(c, 500, concurrency, "echo/m")
        for r in range(rounds):
            for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
                t0 = time.perf_counter()
                await sides[name](c, n, concurrency, "echo/m")
                per[name].append((time.perf_counter() - t0) / n * 1e6)
    return {f"{k}_us": statistics.median(v) for k, v in per.items()}


async def measure(port: int, tmp: str, n: int, rounds: int, concurrency: int,
                  ledger: bool = True) -> dict[str, Any]:
    config = {"providers": {"openai": {"api_key": "sk-bench-0000000000",
                                       "base_url": f"http://127.0.0.1:{port}/v1"}},
              "ledger": {"path": os.path.join(tmp, "ledger.db") if ledger else "off"}}
    sides = {"runner": with_runner, "gather": with_gather, "gather_tagged": with_gather_tagged}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}  # this process, us/request
    async with plugbay.Client(config, env={"HOME": tmp}) as client:
        for fn in sides.values():  # warm up: connections, imports, the ledger's tables
            await fn(client, min(n, 500), concurrency)
        for r in range(rounds):
            for name in list(sides)[r % 3:] + list(sides)[:r % 3]:  # each leads in turn
                t0, c0 = time.perf_counter(), time.process_time()
                failed = await sides[name](client, n, concurrency)
                if client.ledger is not None:
                    client.ledger.flush()  # its rows count too
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
    return {"requests": n, "rounds": rounds, "concurrency": concurrency, "ledger": ledger,
            "runner_rps": med["runner"], "gather_rps": med["gather"],
            "overhead_pct": (med["gather"] / med["runner"] - 1) * 100,
            "paired_overhead_pct": (paired - 1) * 100,
            "gather_tagged_rps": med["gather_tagged"],
            "tagged_overhead_pct": (med["gather_tagged"] / med["runner"] - 1) * 100,
            "runner_cpu_us": med_cpu["runner"], "gather_cpu_us": med_cpu["gather"],
            "gather_tagged_cpu_us": med_cpu["gather_tagged"],
            "cpu_overhead_pct": (med_cpu["runner"] / med_cpu["gather"] - 1) * 100,
            "rates": rates, "cpu_us": cpu, "loadavg": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--quick", action="store_true", help="2,000 requests x 3 rounds")
    p.add_argument("--no-ledger", action="store_true", help="both sides with the ledger off")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    if args.quick:
        args.requests, args.rounds = 2000, 3
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = upstream(tmp)
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(proc.pid, {0})
            os.sched_setaffinity(0, {1})
        try:
            doc = asyncio.run(measure(port, tmp, args.requests, args.rounds, args.concurrency,
                                      not args.no_ledger))
        finally:
            proc.terminate()
            proc.wait(10)
    doc["in_process"] = asyncio.run(in_process(args.requests, args.rounds, args.concurrency))
    print(f"batch runner, {doc['requests']:,} requests x {doc['rounds']} rounds, "
          f"{doc['concurrency']} in flight: runner {doc['runner_rps']:,.0f} req/s, "
          f"asyncio.gather + semaphore {doc['gather_rps']:,.0f} req/s; overhead "
          f"{doc['overhead_pct']:+.1f}% (goal <= 5%; median of the rounds' own ratios "
          f"{doc['paired_overhead_pct']:+.1f}%), by CPU "
          f"{doc['runner_cpu_us']:.0f} vs {doc['gather_cpu_us']:.0f} us/request "
          f"({doc['cpu_overhead_pct']:+.1f}%); gather with the runner's custom_id tags "
          f"{doc['gather_tagged_rps']:,.0f} req/s ({doc['tagged_overhead_pct']:+.1f}%), "
          f"{doc['gather_tagged_cpu_us']:.0f} us CPU/request; in process (a plugin that "
          f"answers at once): {doc['in_process']['runner_us']:.1f} vs "
          f"{doc['in_process']['gather_us']:.1f} us/request")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
