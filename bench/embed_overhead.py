"""What ``client.aembed`` adds over a raw HTTP call that gets the same vectors, for 1 input
and for 1,000 inputs (issue 15).

Both sides POST the same OpenAI ``/v1/embeddings`` body (base64 floats, 256 dimensions)
to one local server on the same kept-alive connection pool, read the JSON and decode the
vectors into float lists. The raw side is plugbay's own ``HTTPClient`` (so the figure is
the pipeline, batching and model building, not a transport); the other side is
``client.aembed`` with the ledger off and no cache (a direct call: metering and dispatch).
Calls alternate in blocks, so machine noise falls on both; each figure is the median.
The server answers from precomputed bytes and runs in this process's own thread, so the
CPU figures include its share alike on both sides.

Run: ``.venv/bin/python bench/embed_overhead.py [--seconds 2] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import plugbay
from plugbay.http.client import HTTPClient
from plugbay.openai_compat.embed import decode_base64_floats
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

MODEL = "text-embedding-3-small"
DIMS = 256
perf, process_cpu = time.perf_counter, time.process_time


def answers() -> dict[int, Reply]:
    """The server's answer for 1 and for 1,000 inputs, made once."""
    vector = base64.b64encode(struct.pack(f"<{DIMS}f", *[i / 256 for i in range(DIMS)]))
    out = {}
    for n in (1, 1000):
        data = [{"object": "embedding", "index": i, "embedding": vector.decode()}
                for i in range(n)]
        out[n] = Reply.json({"object": "list", "data": data, "model": MODEL,
                             "usage": {"prompt_tokens": 4 * n, "total_tokens": 4 * n}})
    return out


async def measure(seconds: float) -> dict[str, Any]:
    replies = answers()
    texts = {n: [f"a sentence to embed, number {i}" for i in range(n)] for n in (1, 1000)}
    with FakeServer() as srv:
        srv.add("POST", "/v1/embeddings", lambda req: replies[len(req.json()["input"])])
        url = srv.url + "/v1"
        client = plugbay.Client({"providers": {"openai": {"api_key": "k", "base_url": url}},
                                 "ledger": {"path": "off"}}, env={})
        raw = HTTPClient()
        headers = {"Authorization": "Bearer k"}

        def raw_call(n: int) -> Callable[[], Awaitable[Any]]:
            async def call() -> Any:
                body = {"model": MODEL, "input": texts[n], "encoding_format": "base64",
                        "dimensions": DIMS}
                response = await raw.request("POST", url + "/embeddings", headers=headers,
                                             json=body)
                data = json.loads(response.content)
                return [decode_base64_floats(d["embedding"]) for d in data["data"]]
            return call

        def embed_call(n: int) -> Callable[[], Awaitable[Any]]:
            async def call() -> Any:
                return await client.aembed(f"openai/{MODEL}", texts[n], dimensions=DIMS)
            return call

        out: dict[str, Any] = {}
        try:
            for n in (1, 1000):
                sides = {"raw": raw_call(n), "embed": embed_call(n)}
                for fn in sides.values():  # warm: plugin load, connections, schemas
                    await fn()
                got = await _interleave(sides, seconds, block=20 if n == 1 else 2)
                for side, (wall, cpu) in got.items():
                    out[f"{side}_{n}_p50_us"] = wall
                    out[f"{side}_{n}_cpu_us"] = cpu
                out[f"overhead_{n}_us"] = got["embed"][0] - got["raw"][0]
                out[f"overhead_{n}_cpu_us"] = got["embed"][1] - got["raw"][1]
        finally:
            await client.aclose()
            await raw.aclose()
    return out


async def _interleave(sides: dict[str, Callable[[], Awaitable[Any]]], seconds: float,
                      block: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU microseconds per call of each side, in alternating blocks."""
    walls: dict[str, list[float]] = {k: [] for k in sides}
    cpus: dict[str, list[float]] = {k: [] for k in sides}
    end = perf() + seconds
    while perf() < end:
        for name, fn in sides.items():
            for _ in range(block):
                t0, c0 = perf(), process_cpu()
                await fn()
                walls[name].append((perf() - t0) * 1e6)
                cpus[name].append((process_cpu() - c0) * 1e6)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in sides}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per input count")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    doc = asyncio.run(measure(args.seconds))
    if args.json:
        print(json.dumps(doc))
        return
    for n in (1, 1000):
        print(f"{n:>5} inputs: raw {doc[f'raw_{n}_p50_us']:,.0f} us, aembed "
              f"{doc[f'embed_{n}_p50_us']:,.0f} us: overhead {doc[f'overhead_{n}_us']:,.0f} us "
              f"wall, {doc[f'overhead_{n}_cpu_us']:,.0f} us CPU")


if __name__ == "__main__":
    main()
