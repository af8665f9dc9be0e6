"""Per-chunk cost of the sync stream (``client.stream``) over the async one (``astream``).

    .venv/bin/python bench/sync_stream.py [--chunks 2000] [--rounds 7] [--streams 3]
                    [--server fake|burst] [--chunk-delay 0] [--pin] [--json]

An upstream in a child process (so the client's CPU time is the client's alone) streams
``--chunks`` tiny OpenAI-format text deltas: ``fake`` is ``plugbay.testing.FakeServer``
writing one chunk at a time (optionally ``--chunk-delay`` s apart), ``burst`` is
``bench/upstream.py`` sending the whole precomputed stream at once, so the client is
the bottleneck and the wall figures show the client's own cost. Each round reads
``--streams`` streams with ``async for`` on the caller's loop, then the same with
``for`` through the sync API, alternating which goes first. Per chunk it reports the
wall time and the process CPU time (both threads of the sync API count), the median and
range over the rounds, and the sync - async difference: the cost of the hand-off between
the caller's thread and the client's loop thread. ``--pin`` puts the server on CPU 0 and
the client on CPU 1, as ``bench/run`` does. Standalone: needs only the plugbay venv.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

MODEL = "openai/gpt-4o-mini"


def serve(kind: str, chunks: int, delay: float) -> None:
    """Child process: script the stream, print the base URL, serve until stdin closes."""
    if kind == "burst":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from upstream import serve_in_thread

        with serve_in_thread() as up:
            print(f"{up.url}/chunks/{chunks}/v1", flush=True)
            sys.stdin.read()
        return
    from plugbay.testing.replies import Reply
    from plugbay.testing.server import FakeServer
    from plugbay.testing.wire import OpenAIWire

    wire = OpenAIWire()
    usage = {"input": 3, "output": chunks}
    events = wire.stream_events("gpt-4o-mini", [{"content": "x"} for _ in range(chunks)],
                                "stop", usage)
    with FakeServer() as server:
        server.add("POST", wire.route(), Reply.sse(events, chunk_delay=delay))
        print(server.url + wire.prefix, flush=True)
        sys.stdin.read()


def _cpu_pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass


async def read_async(client: Any, streams: int) -> int:
    n = 0
    for _ in range(streams):
        async with client.astream(MODEL, "hi") as stream:
            async for _event in stream:
                n += 1
    return n


def read_sync(client: Any, streams: int) -> int:
    n = 0
    for _ in range(streams):
        with client.stream(MODEL, "hi") as stream:
            for _event in stream:
                n += 1
    return n


def measure(fn: Any) -> tuple[float, float, int]:
    w0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    return time.perf_counter() - w0, time.process_time() - c0, n


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def main(argv: list[str]) -> None:
    def opt(name: str, default: str) -> str:
        return argv[argv.index(name) + 1] if name in argv else default

    if "--serve" in argv:
        serve(opt("--server", "fake"), int(opt("--chunks", "2000")),
              float(opt("--chunk-delay", "0")))
        return
    chunks, rounds = int(opt("--chunks", "2000")), int(opt("--rounds", "7"))
    streams, delay = int(opt("--streams", "3")), opt("--chunk-delay", "0")
    pin, kind = "--pin" in argv, opt("--server", "fake")
    child = [sys.executable, __file__, "--serve", "--server", kind, "--chunks", str(chunks),
             "--chunk-delay", delay]
    server = subprocess.Popen(child, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              preexec_fn=(lambda: _cpu_pin(0)) if pin else None)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url:
            raise SystemExit("the fake server did not start (see its error above)")
        if pin:
            _cpu_pin(1)
        import plugbay

        config = {"providers": {"openai": {"base_url": url, "api_key": "sk-bench"}}}
        loop = asyncio.new_event_loop()
        with plugbay.Client(config, env={}) as client:
            read_sync(client, 1)  # warm up both paths: connections, imports, schemas
            loop.run_until_complete(read_async(client, 1))
            per: dict[str, dict[str, list[float]]] = {
                m: {"wall": [], "cpu": []} for m in ("async", "sync")}
            for r in range(rounds):
                order = ("async", "sync") if r % 2 == 0 else ("sync", "async")
                for mode in order:
                    if mode == "async":
                        wall, cpu, n = measure(
                            lambda: loop.run_until_complete(read_async(client, streams)))
                    else:
                        wall, cpu, n = measure(lambda: read_sync(client, streams))
                    per[mode]["wall"].append(wall / n * 1e6)
                    per[mode]["cpu"].append(cpu / n * 1e6)
            loop.run_until_complete(client.aclose())
        loop.close()
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=10)
    diff = {k: [s - a for s, a in zip(per["sync"][k], per["async"][k], strict=True)]
            for k in ("wall", "cpu")}
    result = {"server": kind, "chunks": chunks, "rounds": rounds, "streams": streams,
              "chunk_delay": delay, "pinned": pin, "events_per_stream": n // streams,
              "us_per_chunk": {m: {k: summary(v) for k, v in d.items()}
                               for m, d in per.items()},
              "sync_overhead_us_per_chunk": {k: summary(v) for k, v in diff.items()}}
    if "--json" in argv:
        print(json.dumps(result))
        return
    print(f"{kind} server, {chunks} chunks x {streams} streams x {rounds} rounds"
          f"{', pinned' if pin else ''}; us per chunk, median (min-max)")
    rows = [*((m, per[m]) for m in ("async", "sync")), ("sync - async", diff)]
    for name, data in rows:
        cells = [f"{k} {statistics.median(v):7.2f} ({min(v):.2f}-{max(v):.2f})"
                 for k, v in data.items()]
        print(f"{name:14} " + "   ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
