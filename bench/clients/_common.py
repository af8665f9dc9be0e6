"""The measurement protocol every bench client shares.

A client script subclasses :class:`Adapter` and calls :func:`main`::

    python clients/<name>.py --mode import|cold|seq|stream|conc|load|probe --url URL [--n N]
        [--chunks C] [--conc K] [--warmup W] [--max-s S] [--cpu CPU] [--variant V]
        [--seq-s S --stream-s S --conc-s S]   (load: the three phases in one process)

and prints exactly one JSON line (the last line of stdout) with the figures. A client whose
library cannot be imported prints ``{"available": false, "error": ...}`` and exits 0; so does
any failure in ``probe`` mode (one untimed completion, run before the measurements).

Only builtins, ``os``, ``sys`` and ``time`` are imported before the library is, so the import
figure is the library's own: arguments are parsed by hand, not with argparse (which would
pre-import ``re`` and friends for the library).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the library under test pays for it
    from collections.abc import AsyncIterator
    from typing import Any

MODEL = "gpt-4o-mini"
PROMPT = "hello"
API_KEY = "sk-bench"


class Adapter:
    """One library under test. ``load`` does every import the client needs."""

    dist = ""  # distribution name whose version is reported

    def __init__(self, variant: str) -> None:
        self.variant = variant

    def load(self) -> None:
        raise NotImplementedError

    async def open(self, base_url: str) -> None:
        """Build the client. ``base_url`` ends in ``/v1``."""
        raise NotImplementedError

    async def complete(self) -> str:
        """One non-streaming completion; returns the text."""
        raise NotImplementedError

    def stream(self) -> AsyncIterator[str]:
        """One streaming completion; yields each non-empty text delta."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def version(self) -> str:
        from importlib.metadata import version

        return version(self.dist) if self.dist else "?"


def _args(argv: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    it = iter(argv)
    for key in it:
        if not key.startswith("--"):
            raise SystemExit(f"unexpected argument {key!r}")
        out[key[2:]] = next(it, "")
    return out


def _rss_mb(field: str = "VmRSS:") -> float:
    """Current RSS in MiB (``VmHWM:`` for the peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def _pct(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def _emit(result: dict[str, Any]) -> None:
    """Print the result and leave at once: some libraries take seconds to tear down, and
    nothing after the measurement is measured."""
    import json

    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


async def _seq(a: Adapter, url: str, n: int, warmup: int, cap: float) -> dict[str, Any]:
    await a.open(url)
    for _ in range(warmup):
        await a.complete()
    lat: list[float] = []
    clock = time.perf_counter
    cpu0, t0 = time.process_time(), clock()
    deadline = t0 + cap
    for _ in range(n):
        s = clock()
        await a.complete()
        e = clock()
        lat.append(e - s)
        if e > deadline:
            break
    wall, cpu = clock() - t0, time.process_time() - cpu0  # CPU: every thread of the process
    await a.close()
    n = len(lat)
    lat.sort()
    us = 1e6
    return {
        "n": n,
        "p50_us": _pct(lat, 0.5) * us,
        "p90_us": _pct(lat, 0.9) * us,
        "p99_us": _pct(lat, 0.99) * us,
        "min_us": lat[0] * us,
        "mean_us": wall / n * us,
        "cpu_per_req_us": cpu / n * us,
    }


async def _stream(
    a: Adapter, url: str, n: int, warmup: int, chunks: int, cap: float
) -> dict[str, Any]:
    await a.open(url)
    for _ in range(warmup):
        async for _text in a.stream():
            pass
    ttfc: list[float] = []
    total: list[float] = []
    got = 0
    clock = time.perf_counter
    cpu0 = time.process_time()
    deadline = clock() + cap
    for _ in range(n):
        s = clock()
        first = 0.0
        count = 0
        async for _text in a.stream():
            if not count:
                first = clock()
            count += 1
        e = clock()
        total.append(e - s)
        ttfc.append(first - s)
        got = count
        if e > deadline:
            break
    cpu = time.process_time() - cpu0
    await a.close()
    n = len(total)
    if got != chunks:
        raise RuntimeError(f"expected {chunks} text chunks, got {got}")
    ttfc.sort()
    total.sort()
    us = 1e6
    return {
        "n": n,
        "chunks": got,
        "ttfc_p50_us": _pct(ttfc, 0.5) * us,
        "total_p50_us": _pct(total, 0.5) * us,
        "total_p99_us": _pct(total, 0.99) * us,
        "cpu_per_stream_us": cpu / n * us,
        "cpu_per_chunk_us": cpu / n / chunks * us,
    }


def _server_stats(stats_url: str) -> dict[str, float]:
    """The upstream's own counters (requests, connections, CPU seconds)."""
    import json
    import urllib.request

    with urllib.request.urlopen(stats_url, timeout=5) as r:
        stats: dict[str, float] = json.loads(r.read())
        return stats


async def _conc(
    a: Adapter, url: str, n: int, warmup: int, conc: int, cap: float, stats_url: str = ""
) -> dict[str, Any]:
    import asyncio

    before = _server_stats(stats_url) if stats_url else None
    await a.open(url)

    async def burst(total: int, deadline: float) -> int:
        left = total
        done = 0

        async def worker() -> None:
            nonlocal left, done
            while left > 0 and time.perf_counter() < deadline:
                left -= 1
                await a.complete()
                done += 1

        await asyncio.gather(*(worker() for _ in range(conc)))
        return done

    await burst(max(warmup, conc), float("inf"))
    cpu0, t0 = time.process_time(), time.perf_counter()
    n = await burst(n, t0 + cap)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss, maxrss = _rss_mb(), _rss_mb("VmHWM:")
    await a.close()
    out: dict[str, Any] = {
        "n": n,
        "rps": n / wall,
        "cpu_per_req_us": cpu / n * 1e6,
        "rss_mb": rss,
        "maxrss_mb": maxrss,
    }
    if before is not None:  # what this client cost the upstream (warm-up included)
        after = _server_stats(stats_url)
        # Less our own stats request and its connection.
        served = after["requests"] - before["requests"] - 1
        if served > 0:
            out["server_cpu_per_req_us"] = (after["cpu_s"] - before["cpu_s"]) * 1e6 / served
            out["server_connections"] = after["connections"] - before["connections"] - 1
    return out


async def _cold(a: Adapter, url: str, t0: float, cpu0: float) -> dict[str, Any]:
    await a.open(url)
    built = time.perf_counter()
    text = await a.complete()
    first = time.perf_counter()
    cpu = time.process_time() - cpu0
    await a.close()
    if not text:
        raise RuntimeError("empty completion")
    return {"cold_s": first - t0, "cold_cpu_s": cpu, "build_s": built - t0, "rss_mb": _rss_mb()}


async def _load(a: Adapter, url: str, opts: dict[str, str], chunks: int) -> dict[str, Any]:
    """The three load phases in turn, each for its own seconds (``--seq-s`` ...)."""
    many = 10**9  # time-based: a phase ends at its deadline, not after N requests
    warm = int(opts.get("warmup", "100"))
    seq = await _seq(a, url + "/v1", many, warm, float(opts["seq-s"]))
    stream = await _stream(
        a, f"{url}/chunks/{chunks}/v1", many, max(3, warm // 10), chunks, float(opts["stream-s"])
    )
    conc = await _conc(
        a, url + "/v1", many, int(opts.get("conc-warmup", "256")), int(opts.get("conc", "64")),
        float(opts["conc-s"]), url + "/bench/stats",
    )
    return {"seq": seq, "stream": stream, "conc": conc}


def main(adapter_cls: type[Adapter]) -> None:
    opts = _args(sys.argv[1:])
    if "cpu" in opts and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(opts["cpu"])})
        except OSError:
            pass  # the runner notes the pinning it asked for
    mode = opts.get("mode", "seq")
    adapter = adapter_cls(opts.get("variant", ""))
    result: dict[str, Any] = {"mode": mode, "available": True}
    rss0 = _rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        adapter.load()
        t1, cpu1 = time.perf_counter(), time.process_time()
        if mode == "import":
            result.update(
                import_s=t1 - t0,
                import_cpu_s=cpu1 - cpu0,
                rss_before_mb=rss0,
                rss_after_mb=_rss_mb(),
                modules=len(sys.modules),
            )
        else:
            import asyncio

            result.update(asyncio.run(_run(adapter, mode, opts, t0, cpu0)))
    except ImportError as exc:
        result = {"mode": mode, "available": False, "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:
        if mode != "probe":
            raise
        result = {"mode": mode, "available": False, "error": f"{type(exc).__name__}: {exc}"}
    else:
        result["version"] = adapter.version()
    _emit(result)


async def _run(
    a: Adapter, mode: str, opts: dict[str, str], t0: float, cpu0: float
) -> dict[str, Any]:
    url = opts["url"].rstrip("/")
    n = int(opts.get("n", "1000"))
    warmup = int(opts.get("warmup", "100"))
    chunks = int(opts.get("chunks", "200"))
    cap = float(opts.get("max-s", "inf"))  # stop a timed phase early past this many seconds
    if mode in ("cold", "probe"):
        return await _cold(a, url + "/v1", t0, cpu0)
    if mode == "load":
        return await _load(a, url, opts, chunks)
    if mode == "seq":
        return await _seq(a, url + "/v1", n, warmup, cap)
    if mode == "stream":
        return await _stream(a, f"{url}/chunks/{chunks}/v1", n, warmup, chunks, cap)
    if mode == "conc":
        return await _conc(a, url + "/v1", n, warmup, int(opts.get("conc", "64")), cap)
    raise SystemExit(f"unknown mode {mode!r}")
