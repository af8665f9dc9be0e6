"""What the usage ledger adds to a call: ``acomplete`` with the ledger on (SQLite, the
default) against the same call with ``[ledger] path = "off"``, p50 of each and the
difference. A third column shows the call with all metering bypassed (no stats, no
ledger), for the total cost of issue 7's hooks.

Two settings, as in ``routing_overhead.py``:

* ``in-process``: a plugin whose ``complete`` returns at once (with usage and a price, so
  the cost is computed and recorded), so the figure is the hooks' own cost.
* ``socket``: the openai plugin against ``bench/upstream.py`` in its own process on
  127.0.0.1 (real HTTP/1.1, keep-alive).

Calls alternate between the clients in small blocks so drift hits all equally. The
ledger's writes happen on its background thread; the figure is what the caller waits.
Run: ``.venv/bin/python bench/ledger_overhead.py [--calls N] [--socket-calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import plugbay
from plugbay import hookimpl
from plugbay.types import Completion, Price, Usage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from routing_overhead import upstream  # noqa: E402  (the same upstream process helper)

PRICE = Price(input=1.0, output=2.0, as_of=dt.date(2026, 11, 1), source="bench")


class Echo:
    """An in-process provider that answers immediately, with usage."""

    name = "echo"

    @hookimpl
    async def complete(self, request: Any, provider: Any) -> Completion:
        return Completion.model_construct(
            text="hi", model=request.model, provider=provider.name, tool_calls=[],
            finish_reason="stop", extra={}, usage=Usage(input_tokens=12, output_tokens=3),
            price=None, trace=None, latency=None, id=None, time_to_first_token=None)

    @hookimpl
    def price(self, model: str, provider: Any) -> Price:
        return PRICE


class Bare:
    """The call path without metering: the pipeline's bottom layer alone (dispatch), fed
    the same ``Call`` the client would build."""

    def __init__(self, client: plugbay.Client) -> None:
        from plugbay.layers.dispatch import Dispatch

        self.client = client
        self.dispatch = Dispatch(client.timeout)

    async def acomplete(self, model: str, prompt: str) -> Completion:
        from plugbay.call import Call, build_request

        target, model_id = self.client.targets.split(model)
        call = Call(model, build_request(model_id, prompt, {}), target=target)
        return await self.dispatch.complete(call)

    async def aclose(self) -> None:
        await self.client.aclose()


async def measure(clients: dict[str, Any], model: str, calls: int,
                  block: int = 50) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in clients}
    perf = time.perf_counter
    for client in clients.values():  # warm up: plugin load, pools, writer thread, schema
        for _ in range(300):
            await client.acomplete(model, "hi")
    gc.collect()
    gc.disable()
    try:
        done = 0
        while done < calls:
            for name, client in clients.items():
                bucket = times[name]
                for _ in range(block):
                    t0 = perf()
                    await client.acomplete(model, "hi")
                    bucket.append(perf() - t0)
            done += block
    finally:
        gc.enable()
    return times


def report(label: str, times: dict[str, list[float]]) -> float:
    p50 = {k: statistics.median(v) for k, v in times.items()}
    extra = p50["ledger on"] - p50["ledger off"]
    print(f"{label:12s} bypassed {p50['no metering'] * 1e6:7.1f} us   ledger off "
          f"{p50['ledger off'] * 1e6:7.1f} us   ledger on {p50['ledger on'] * 1e6:7.1f} us   "
          f"ledger adds {extra * 1e6:5.1f} us   all hooks add "
          f"{(p50['ledger on'] - p50['no metering']) * 1e6:5.1f} us   "
          f"(n={len(times['ledger on'])} each)")
    return extra


def clients(config: dict[str, Any], db: str, **kw: Any) -> dict[str, Any]:
    return {
        "no metering": Bare(plugbay.Client({**config, "ledger": {"path": "off"}}, env={}, **kw)),
        "ledger off": plugbay.Client({**config, "ledger": {"path": "off"}}, env={}, **kw),
        "ledger on": plugbay.Client({**config, "ledger": {"path": db}}, env={}, **kw),
    }


async def in_process(calls: int, db: str) -> float:
    cs = clients({}, db, plugins={"echo": Echo()})
    try:
        return report("in-process", await measure(cs, "echo/m", calls))
    finally:
        for c in cs.values():
            await c.aclose()


async def over_socket(port: int, calls: int, db: str) -> float:
    config = {"providers": {"openai": {"api_key": "sk-bench-0000000000",
                                       "base_url": f"http://127.0.0.1:{port}/v1"}}}
    cs = clients(config, db)
    try:
        return report("socket", await measure(cs, "openai/gpt-4o-mini", calls))
    finally:
        for c in cs.values():
            await c.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--calls", type=int, default=20000, help="calls per client, in-process")
    p.add_argument("--socket-calls", type=int, default=4000, help="calls per client, socket")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(in_process(args.calls, os.path.join(tmp, "a.db")))
        proc, port = upstream(tmp)
        try:
            asyncio.run(over_socket(port, args.socket_calls, os.path.join(tmp, "b.db")))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
