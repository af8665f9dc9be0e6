"""What routing adds to a call: direct ``acomplete("provider/model")`` against the same
call through a one-target route (``acomplete("r")``), p50 of each and the difference.

Two measurements:

* ``in-process``: a plugin whose ``complete`` returns at once, so the figure is the
  router's own cost (strategy, breaker, retry loop, trace) with no network noise.
* ``socket``: the openai plugin against ``bench/upstream.py`` run as a separate process
  on 127.0.0.1 (real HTTP/1.1 with keep-alive), the realistic setting.

Calls alternate direct/routed in small blocks so drift (CPU frequency, GC) hits both
equally. Run: ``.venv/bin/python bench/routing_overhead.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import plugbay
from plugbay import hookimpl
from plugbay.types import Completion

HERE = Path(__file__).resolve().parent
# Like for like: without deadlines on either side, and with a 30 s deadline on both
# (a direct call with timeout=30 pays for its asyncio timeout just as the route does).
ROUTES = {"r": {"strategy": "priority", "targets": []},
          "r_deadline": {"strategy": "priority", "targets": [], "deadline": 30}}


class Echo:
    """An in-process provider that answers immediately."""

    name = "echo"

    @hookimpl
    async def complete(self, request: Any, provider: Any) -> Completion:
        return Completion.model_construct(text="hi", model=request.model, provider=provider.name,
                                          tool_calls=[], finish_reason="stop", extra={},
                                          usage=None, price=None, trace=None, latency=None)

    @hookimpl
    def price(self, model: str, provider: Any) -> None:
        return None


async def measure(client: plugbay.Client, direct: str, routed: str, calls: int,
                  timeout: float | None, block: int = 50) -> tuple[list[float], list[float]]:
    times: dict[str, list[float]] = {direct: [], routed: []}
    limits = {direct: timeout, routed: None}  # the route carries its own deadline
    perf = time.perf_counter
    for name in (direct, routed):  # warm up: plugin load, pools, router build
        for _ in range(200):
            await client.acomplete(name, "hi", timeout=limits[name])
    gc.collect()
    gc.disable()
    try:
        done = 0
        while done < calls:
            for name in (direct, routed):
                bucket, limit = times[name], limits[name]
                for _ in range(block):
                    t0 = perf()
                    await client.acomplete(name, "hi", timeout=limit)
                    bucket.append(perf() - t0)
            done += block
    finally:
        gc.enable()
    return times[direct], times[routed]


def report(label: str, direct: list[float], routed: list[float]) -> float:
    d, r = statistics.median(direct), statistics.median(routed)
    print(f"{label:26s} direct p50 {d * 1e6:8.1f} us   routed p50 {r * 1e6:8.1f} us   "
          f"overhead {(r - d) * 1e6:6.1f} us   (n={len(direct)} each)")
    return r - d


def routes(target: str) -> dict[str, Any]:
    return {name: {**route, "targets": [target]} for name, route in ROUTES.items()}


async def in_process(calls: int) -> None:
    config = {"routes": routes("echo/m")}
    async with plugbay.Client(config, env={}, plugins={"echo": Echo()}) as client:
        report("in-process, no deadline", *await measure(client, "echo/m", "r", calls, None))
        report("in-process, 30 s deadline",
               *await measure(client, "echo/m", "r_deadline", calls, 30.0))


async def over_socket(port: int, calls: int) -> None:
    config = {"providers": {"openai": {"api_key": "sk-bench-0000000000",
                                       "base_url": f"http://127.0.0.1:{port}/v1"}},
              "routes": routes("openai/gpt-4o-mini")}
    model = "openai/gpt-4o-mini"
    async with plugbay.Client(config, env={}) as client:
        report("socket, no deadline", *await measure(client, model, "r", calls, None))
        report("socket, 30 s deadline", *await measure(client, model, "r_deadline", calls, 30.0))


def upstream(tmp: str) -> tuple[subprocess.Popen[bytes], int]:
    """bench/upstream.py in its own process (so it does not share our GIL)."""
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), "--port", "0",
                             "--port-file", port_file], stdout=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(port_file):
            return proc, int(Path(port_file).read_text())
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("bench/upstream.py did not start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--calls", type=int, default=20000, help="calls per side, in-process")
    p.add_argument("--socket-calls", type=int, default=4000, help="calls per side, socket")
    args = p.parse_args()
    asyncio.run(in_process(args.calls))
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = upstream(tmp)
        try:
            asyncio.run(over_socket(port, args.socket_calls))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
