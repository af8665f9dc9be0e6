"""The cache across real processes: an SQLite entry outlives the process that wrote it,
and four processes sharing Redis (or one SQLite file) make one upstream call."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from plugbay.testing.server import FakeServer

from .conftest import forget, need_redis
from .harness import REDIS_URL, ok, path, sse

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]
HERE = Path(__file__).resolve().parent

WORKER = textwrap.dedent("""
    import asyncio, json, sys, time
    sys.path.insert(0, sys.argv[1])
    from harness import Harness
    from plugbay.cache.layer import CacheLayer
    from plugbay.cache.redis import RedisStore
    from plugbay.cache.sqlite import SQLiteStore
    server, store_arg, start, n, stream = sys.argv[2], sys.argv[3], float(sys.argv[4]), \\
        int(sys.argv[5]), sys.argv[6] == "stream"

    async def main():
        if store_arg.startswith("redis://"):
            url, prefix = store_arg.rsplit("#", 1)
            store = RedisStore(url, prefix=prefix)
        else:
            store = SQLiteStore(store_arg)
        h = Harness(server)
        h.targets.get("a")  # load the plugin before the clock starts
        pipe = h.pipeline(CacheLayer(store))
        calls = [h.call("the same question", stream=stream) for _ in range(n)]

        async def one(call):
            if stream:
                return "".join([e.text async for e in pipe.stream(call) if e.type == "text"])
            return (await pipe.complete(call)).text

        await asyncio.sleep(max(start - time.time(), 0))
        texts = await asyncio.gather(*(one(c) for c in calls))
        await store.aclose()
        await h.aclose()
        return {"texts": texts, "outcomes": [c.outcome.cache for c in calls]}

    print(json.dumps(asyncio.run(main())))
""")


def run(srv: FakeServer, store: str, *, procs: int = 1, calls: int = 1,
        stream: bool = False) -> list[dict[str, Any]]:
    start = time.time() + (3.0 if procs > 1 else 0.0)  # together, after their imports
    running = [subprocess.Popen(
        [sys.executable, "-c", WORKER, str(HERE), srv.url, store, str(start), str(calls),
         "stream" if stream else "complete"], stdout=subprocess.PIPE, text=True)
        for _ in range(procs)]
    outs = []
    for p in running:
        stdout, _ = p.communicate(timeout=90)
        assert p.returncode == 0
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    return outs


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_an_sqlite_entry_outlives_its_process(srv: FakeServer, tmp_path: Path,
                                              stream: bool) -> None:
    srv.add("POST", path("a"), sse(["kept ", "on disk"]) if stream else ok("kept on disk"))
    db = str(tmp_path / "cache.db")
    first = run(srv, db, stream=stream)[0]
    second = run(srv, db, stream=stream)[0]
    assert first == {"texts": ["kept on disk"], "outcomes": ["miss"]}
    assert second == {"texts": ["kept on disk"], "outcomes": ["hit"]}
    assert len(srv.requests) == 1


def four_processes(srv: FakeServer, store: str) -> None:
    srv.add("POST", path("a"), ok("one answer", delay=1.5))
    outs = run(srv, store, procs=4, calls=5)
    assert len(srv.requests) == 1
    assert all(o["texts"] == ["one answer"] * 5 for o in outs)
    outcomes = [x for o in outs for x in o["outcomes"]]
    assert outcomes.count("miss") == 1 and outcomes.count("hit") == 19


def test_four_processes_sharing_redis_call_once(srv: FakeServer) -> None:
    need_redis()
    prefix = f"pbtest-cache-{uuid.uuid4().hex[:12]}"
    try:
        four_processes(srv, f"{REDIS_URL}#{prefix}")
    finally:
        import asyncio

        asyncio.run(forget(prefix))


def test_four_processes_sharing_an_sqlite_file_call_once(srv: FakeServer,
                                                         tmp_path: Path) -> None:
    four_processes(srv, str(tmp_path / "cache.db"))
