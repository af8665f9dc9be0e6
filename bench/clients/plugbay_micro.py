"""plugbay's in-process costs (issue 12), each against its own baseline in one process:

* ``pipeline``: ``client.acomplete`` through a one-target route with the ledger on (SQLite),
  against a direct plugin call: the plugin's ``complete`` hook awaited with a ready
  ``Request`` and the instance's ``ProviderContext``.
* ``cache``: a cache hit (``client.acomplete`` on a request already answered) with the
  ``memory`` and the ``sqlite`` backend, beside the same call on a client without a cache.
  Skipped, with the reason, when ``Client`` rejects the ``[cache]`` config or the second
  identical call still reaches the plugin.
* ``syncstream``: one stream of ``--chunks`` small text chunks iterated with
  ``client.stream`` (sync) against ``client.astream`` (async), per chunk.

The provider is ``_echo.Echo``, which answers at once, so the figures are plugbay's own.
The two sides alternate in small blocks so that drift hits both. Wall clock is per call
(median); CPU time is the main thread's per block, and the CPU of every other thread (the
ledger writer, a cache's) is charged to the side that made that work. One JSON line out::

    python clients/plugbay_micro.py [--measure pipeline,cache,syncstream] [--seconds S]
        [--chunks N] [--cpu CPU]
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _echo import Echo

import plugbay

MODEL = "echo/m"
LEDGER_OFF = {"path": "off"}
perf, thread_cpu, process_cpu = time.perf_counter, time.thread_time, time.process_time


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _context(client: Any, name: str) -> Any:
    """The instance's ``ProviderContext``: ``client.context(name)`` where the client has it."""
    context = getattr(client, "context", None)
    if callable(context):
        return context(name)
    return plugbay.ProviderContext(name, name, env={})


async def interleave(sides: dict[str, Callable[[], Awaitable[Any]]], seconds: float,
                     owner: str, settle: Callable[[], None] | None = None,
                     block: int = 50) -> dict[str, dict[str, float]]:
    """Alternate blocks of ``block`` calls per side for ``seconds``. ``owner`` is charged
    the CPU of the threads other than this one; ``settle`` (e.g. a ledger flush) runs
    inside the measured window so that the work a side left pending is counted."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    main: dict[str, float] = dict.fromkeys(sides, 0.0)
    gc.collect()
    proc0, thread0 = process_cpu(), thread_cpu()
    end = perf() + seconds
    while perf() < end:
        for name, call in sides.items():
            bucket = times[name]
            c0 = thread_cpu()
            for _ in range(block):
                t0 = perf()
                await call()
                bucket.append(perf() - t0)
            main[name] += thread_cpu() - c0
    if settle is not None:
        c0 = thread_cpu()
        settle()
        main[owner] += thread_cpu() - c0
    others = (process_cpu() - proc0) - (thread_cpu() - thread0)  # every other thread
    out: dict[str, dict[str, float]] = {}
    for name, ts in times.items():
        cpu = main[name] + (max(0.0, others) if name == owner else 0.0)
        out[name] = {"calls": len(ts), "p50_us": statistics.median(ts) * 1e6,
                     "mean_us": sum(ts) / len(ts) * 1e6, "cpu_us": cpu / len(ts) * 1e6}
    out["_"] = {"other_threads_cpu_ms": others * 1e3}
    return out


def _flush(client: Any) -> Callable[[], None]:
    def settle() -> None:
        ledger = getattr(client, "ledger", None)
        if ledger is not None and hasattr(ledger, "flush"):
            ledger.flush()
    return settle


async def pipeline(seconds: float, tmp: str) -> dict[str, Any]:
    from plugbay.types import Request, to_messages

    echo = Echo()
    db = os.path.join(tmp, "ledger.db")
    config = {"routes": {"r": {"strategy": "priority", "targets": [MODEL]}},
              "ledger": {"path": db}}
    async with plugbay.Client(config, env={}, plugins={"echo": echo}) as client:
        ctx = _context(client, "echo")
        request = Request(model="m", messages=to_messages("hi"))
        hook = echo.complete
        sides: dict[str, Callable[[], Awaitable[Any]]] = {
            "direct": lambda: hook(request=request, provider=ctx),
            "routed": lambda: client.acomplete("r", "hi"),
        }
        for call in sides.values():  # warm up: plugin load, router, ledger schema and thread
            for _ in range(300):
                await call()
        done = await client.acomplete("r", "hi")
        if done.provider != "echo" or done.text != "hi":
            raise RuntimeError(f"the route did not reach the echo plugin: {done!r}")
        r = await interleave(sides, seconds, "routed", _flush(client))
        d, rt = r["direct"], r["routed"]
    with sqlite3.connect(db) as conn:  # the ledger really was on: one row per routed call
        rows = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    if rows < rt["calls"]:
        raise RuntimeError(f"the ledger holds {rows} rows for {rt['calls']:.0f} routed calls")
    return {"overhead_p50_us": rt["p50_us"] - d["p50_us"],
            "overhead_cpu_us": rt["cpu_us"] - d["cpu_us"],
            "direct_p50_us": d["p50_us"], "routed_p50_us": rt["p50_us"],
            "direct_cpu_us": d["cpu_us"], "routed_cpu_us": rt["cpu_us"],
            "calls": rt["calls"], "ledger_rows": rows,
            "ledger_thread_cpu_ms": r["_"]["other_threads_cpu_ms"]}


async def cache_hits(backend: str, seconds: float, tmp: str) -> dict[str, Any]:
    """Hits of one backend beside uncached calls; ``{"skipped": why}`` without a cache."""
    table: dict[str, Any] = {"backend": backend}
    shown = dict(table)  # the config as the skip line names it (no temp path)
    if backend == "sqlite":
        table["path"] = os.path.join(tmp, "cache.db")
        shown["path"] = "<tmp>/cache.db"
    echo = Echo()
    try:
        client = plugbay.Client({"cache": table, "ledger": LEDGER_OFF}, env={},
                                plugins={"echo": echo})
    except Exception as exc:
        return {"skipped": f"cache not available: Client rejected {{'cache': {shown}}}: "
                           f"{_line(exc)}"}
    base = plugbay.Client({"ledger": LEDGER_OFF}, env={}, plugins={"echo": Echo()})
    try:
        hit = False
        try:
            await client.acomplete(MODEL, "hi")  # the miss that fills the entry
            for _ in range(50):  # a backend may store in the background: give it 0.5 s
                before = echo.calls
                await client.acomplete(MODEL, "hi")
                if echo.calls == before:
                    hit = True
                    break
                await asyncio.sleep(0.01)
        except Exception as exc:
            return {"skipped": f"cache not available: the {backend} cache failed: {_line(exc)}"}
        if not hit:
            return {"skipped": f"cache not available: Client accepted {{'cache': {shown}}} but "
                               "an identical call still reached the plugin"}
        reached = echo.calls
        sides: dict[str, Callable[[], Awaitable[Any]]] = {
            "hit": lambda: client.acomplete(MODEL, "hi"),
            "uncached": lambda: base.acomplete(MODEL, "hi"),
        }
        for call in sides.values():
            for _ in range(300):
                await call()
        r = await interleave(sides, seconds, "hit")
        if echo.calls != reached:
            raise RuntimeError(f"{echo.calls - reached} of the timed hits reached the plugin")
    finally:
        await client.aclose()
        await base.aclose()
    h, u = r["hit"], r["uncached"]
    return {"hit_p50_us": h["p50_us"], "hit_cpu_us": h["cpu_us"],
            "uncached_p50_us": u["p50_us"], "uncached_cpu_us": u["cpu_us"], "hits": h["calls"]}


def syncstream(seconds: float, chunks: int, block: int = 5) -> dict[str, Any]:
    """Sync against async iteration of the same stream, per chunk (CPU: all threads)."""
    client = plugbay.Client({"ledger": LEDGER_OFF}, env={}, plugins={"echo": Echo(chunks)})
    loop = asyncio.new_event_loop()
    want = chunks + 2  # the text chunks, usage, finish

    async def run_async(n: int, times: list[float]) -> None:
        for _ in range(n):
            t0 = perf()
            got = 0
            async with client.astream(MODEL, "hi") as s:
                async for _ev in s:
                    got += 1
            times.append(perf() - t0)
            if got != want:
                raise RuntimeError(f"async stream gave {got} events, expected {want}")

    def run_sync(n: int, times: list[float]) -> None:
        for _ in range(n):
            t0 = perf()
            got = 0
            with client.stream(MODEL, "hi") as s:
                for _ev in s:
                    got += 1
            times.append(perf() - t0)
            if got != want:
                raise RuntimeError(f"sync stream gave {got} events, expected {want}")

    sides: dict[str, Callable[[int, list[float]], None]] = {
        "async": lambda n, ts: loop.run_until_complete(run_async(n, ts)),
        "sync": run_sync,
    }
    try:
        times: dict[str, list[float]] = {k: [] for k in sides}
        cpu = dict.fromkeys(sides, 0.0)
        for run in sides.values():
            run(10, [])  # warm up: plugin load, the sync loop thread
        gc.collect()
        end = perf() + seconds
        while perf() < end:
            for name, run in sides.items():
                c0 = process_cpu()
                run(block, times[name])
                cpu[name] += process_cpu() - c0
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
    a, s = (statistics.median(times[k]) / chunks * 1e6 for k in ("async", "sync"))
    a_cpu, s_cpu = (cpu[k] / len(times[k]) / chunks * 1e6 for k in ("async", "sync"))
    return {"overhead_chunk_us": s - a, "overhead_cpu_chunk_us": s_cpu - a_cpu,
            "async_chunk_us": a, "sync_chunk_us": s, "async_cpu_chunk_us": a_cpu,
            "sync_cpu_chunk_us": s_cpu, "streams": len(times["sync"]), "chunks": chunks}


def _guard(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """One measure's figures, or its error: one failing measure does not hide the others.
    A coroutine function runs on a fresh event loop."""
    try:
        out: dict[str, Any] = (asyncio.run(fn(*args)) if asyncio.iscoroutinefunction(fn)
                               else fn(*args))
        return out
    except Exception as exc:
        return {"error": _line(exc)}


BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def embed_overhead(seconds: float) -> dict[str, Any]:
    sys.path.insert(0, BENCH_DIR)
    from embed_overhead import measure  # bench/embed_overhead.py, runnable alone too

    return await measure(seconds)


def main() -> None:
    argv = sys.argv[1:]
    opts = dict(zip(argv[::2], argv[1::2], strict=False))
    if "--cpu" in opts and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(opts["--cpu"])})
        except OSError:
            pass
    measures = opts.get("--measure", "pipeline,cache,syncstream,embed").split(",")
    seconds = float(opts.get("--seconds", "3"))
    chunks = int(opts.get("--chunks", "200"))
    doc: dict[str, Any] = {"mode": "micro", "version": plugbay.__version__}
    with tempfile.TemporaryDirectory(prefix="plugbay-micro-") as tmp:
        # A cache or ledger that falls back to a default location lands in tmp, not $HOME.
        os.environ.update(XDG_CACHE_HOME=tmp, XDG_DATA_HOME=tmp)
        if "pipeline" in measures:
            doc["pipeline"] = _guard(pipeline, seconds, tmp)
        if "cache" in measures:
            for backend in ("memory", "sqlite"):
                doc[f"cache_{backend}"] = _guard(cache_hits, backend, seconds / 2, tmp)
        if "syncstream" in measures:
            doc["syncstream"] = _guard(syncstream, seconds, chunks)
        if "embed" in measures:  # issue 15: aembed over a raw HTTP call, 1 and 1,000 inputs
            doc["embed"] = _guard(embed_overhead, seconds / 2)
    sys.stdout.write(json.dumps(doc) + "\n")


if __name__ == "__main__":
    main()
