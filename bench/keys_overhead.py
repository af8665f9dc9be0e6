"""What a virtual key costs a call: ``KeyStore.authenticate`` on a cached key, and a call
through ``KeyLayer`` (budget reserve/settle + RPM/TPM permit) against the same call
without it, p50 of each, with the counters in this process and in Redis.

The plugin answers at once in-process (``ledger_overhead.Echo``, priced), so the figures
are the keys' own cost. Calls alternate with/without in blocks so drift hits both.
Run: ``PLUGBAY_MASTER_KEY=... .venv/bin/python bench/keys_overhead.py [--calls N]
[--redis URL]`` (the Redis db is used under the prefix ``pbbench``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import plugbay
from plugbay.cost.shared import SharedState
from plugbay.gateway.keys.db import open_db
from plugbay.gateway.keys.layer import KeyLayer
from plugbay.gateway.keys.secret import KeyHasher
from plugbay.gateway.keys.store import KeyStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ledger_overhead import Echo  # noqa: E402  (a priced in-process provider)

MASTER = "bench-master-key-0123456789abcdef"
KEY: dict[str, Any] = {"budget": 1e6}  # --limits adds rpm and tpm
perf = time.perf_counter


def p50(xs: list[float]) -> float:
    return statistics.median(xs) * 1e6


async def auth_cost(store: KeyStore, secret: str, calls: int) -> float:
    for _ in range(500):
        await store.authenticate(secret)
    times = []
    for _ in range(calls):
        t0 = perf()
        await store.authenticate(secret)
        times.append(perf() - t0)
    return p50(times)


async def layer_cost(client: plugbay.Client, key_id: str, calls: int,
                     block: int = 50) -> tuple[float, float]:
    tags: dict[str, dict[str, str] | None] = {"with": {"key": key_id}, "without": None}
    times: dict[str, list[float]] = {"with": [], "without": []}
    for name in tags:
        for _ in range(300):
            await client.acomplete("echo/m", "hi", tags=tags[name])
    gc.collect()
    gc.disable()
    try:
        while len(times["with"]) < calls:
            for name, bucket in times.items():
                for _ in range(block):
                    t0 = perf()
                    await client.acomplete("echo/m", "hi", tags=tags[name])
                    bucket.append(perf() - t0)
    finally:
        gc.enable()
    return p50(times["without"]), p50(times["with"])


async def run(calls: int, redis_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db"
        for label, shared in (("memory", None),
                              ("redis", SharedState(redis_url, prefix="pbbench")
                               if redis_url else None)):
            if label == "redis" and shared is None:
                continue
            store = KeyStore(open_db(url), KeyHasher.from_env({"PLUGBAY_MASTER_KEY": MASTER}),
                             shared=shared)
            key, secret = await store.create(**KEY)
            auth = await auth_cost(store, secret, calls)
            config: dict[str, Any] = {"ledger": {"path": "off"}}
            async with plugbay.Client(config, env={}, plugins={"echo": Echo()},
                                      layers=[KeyLayer(store)]) as client:
                without, with_key = await layer_cost(client, key.id, calls)
            print(f"{label:7s} authenticate (cached) p50 {auth:6.1f} us   call p50 without "
                  f"key {without:6.1f} us, with key {with_key:6.1f} us   KeyLayer adds "
                  f"{with_key - without:6.1f} us   (n={calls})")
            await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--redis", help="a Redis URL, to measure shared counters too")
    parser.add_argument("--limits", action="store_true", help="the key also has RPM and TPM")
    args = parser.parse_args()
    if args.limits:
        KEY.update(rpm=10**9, tpm=10**12)
    asyncio.run(run(args.calls, args.redis))


if __name__ == "__main__":
    main()
