"""Shared state must never stall a call or hold a budget hostage: a Redis that accepts
connections and never answers costs one short per-round-trip timeout, then this process
backs off onto its own counters (one warning); a reservation left by a killed process
lapses after ``[state] hold_ttl`` instead of at the end of the budget's period."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.server import FakeServer, Reply

from .conftest import chat, config, ok

pytestmark = pytest.mark.timeout(60)
DEADLINE = 2.0
MARGIN = 0.5
PRICES = {"openai/gpt-4o-mini": {"input": 1.0, "output": 2.0}}


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (a hung Redis)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_hung_redis_costs_one_timeout_then_local_counters(
        srv: FakeServer, silent: SilentServer, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis", reason="pip install 'plugbay[redis]'")
    srv.add("POST", chat(), ok(usage={"input": 10, "output": 5}))
    cfg = config(srv, None, state={"backend": "redis", "url": f"redis://127.0.0.1:{silent.port}/0",
                                   "timeout": 0.3, "backoff": 30},
                 budgets={"g": {"limit": 5.0}},
                 rate_limits={"openai": {"rpm": 1000, "on_limit": "raise"}},
                 prices=PRICES)
    caplog.set_level(logging.WARNING, "plugbay.shared_state")
    times = []
    with plugbay.Client(cfg, env={}, timeout=DEADLINE) as client:
        for _ in range(6):
            started = time.monotonic()
            done = client.complete("openai/gpt-4o-mini", "hi", max_tokens=20)
            times.append(time.monotonic() - started)
            assert done.text == "hello"
    assert max(times) <= DEADLINE + MARGIN  # each call well inside its deadline
    assert sum(times) <= DEADLINE + MARGIN  # the back-off: Redis is not waited for again
    assert len(srv.requests) == 6
    assert caplog.text.count("failed (no answer within 0.3 s)") == 1  # one warning
    assert len(silent.accepted) <= 2  # not one connection attempt per call


def test_redis_back_after_the_backoff_is_used_again(
        srv: FakeServer, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Down (port 1), then the real Redis: after the back-off the shared counters are
    used again, and the return is logged once."""
    import asyncio

    from plugbay.cost.shared import SharedState, Unavailable

    async def scenario() -> list[str]:
        shared = SharedState("redis://127.0.0.1:1/0", timeout=0.3, backoff=0.2)
        seen = []
        for _ in range(2):
            try:
                await shared.run(lambda r: r.ping())
            except shared.errors as exc:
                seen.append(type(exc).__name__)
        await shared.aclose()
        shared.url = redis_url  # the same object, now pointed at a live server
        await asyncio.sleep(0.25)
        seen.append(str(await shared.run(lambda r: r.ping())))
        await shared.aclose()
        return seen

    caplog.set_level(logging.WARNING, "plugbay.shared_state")
    seen = asyncio.run(scenario())
    assert seen[0] in ("ConnectionError", "TimeoutError", "OSError")
    assert seen[1] == Unavailable.__name__  # inside the back-off: not tried at all
    assert seen[2] == "True"
    assert "answers again" in caplog.text


HOLDER = textwrap.dedent("""
    import json, sys
    import plugbay
    client = plugbay.Client(json.loads(sys.argv[1]), env={})
    client.complete("openai/gpt-4o-mini", "hi", max_tokens=1000)  # the upstream stalls
""")


def test_a_killed_process_reservation_lapses(srv: FakeServer, redis_url: str) -> None:
    # One call's estimate (1000 output tokens at $2/M plus the prompt) fits the $0.003
    # budget, two do not: while the killed process's hold lives, the budget is full.
    srv.add("POST", chat(), Reply.stall(30), ok(usage={"input": 10, "output": 5}))
    cfg = config(srv, None, state={"backend": "redis", "url": redis_url, "prefix": "pbhold",
                                   "hold_ttl": 2},
                 budgets={"g": {"limit": 0.003}}, prices=PRICES)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, json.dumps(cfg)],
                              env={**os.environ, "HOME": "/nonexistent"})
    try:
        for _ in range(300):  # until the holder's call reached the upstream
            if srv.requests:
                break
            time.sleep(0.05)
        assert srv.requests, "the holder process never made its call"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
    with plugbay.Client(cfg, env={}) as client:
        with pytest.raises(errors.BudgetExceededError, match="reserved"):
            client.complete("openai/gpt-4o-mini", "hi", max_tokens=1000)
        deadline = time.monotonic() + 10
        while True:  # the hold lapses after hold_ttl (2 s), not at the end of the day
            try:
                done = client.complete("openai/gpt-4o-mini", "hi", max_tokens=1000)
                break
            except errors.BudgetExceededError:
                assert time.monotonic() < deadline, "the dead process's hold never lapsed"
                time.sleep(0.25)
    assert done.text == "hello"


async def test_many_concurrent_ops_wait_for_a_connection_not_fall_back(
        redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """More concurrent reservations than pooled connections (a busy gateway worker):
    each waits for a connection, none falls back to this process's own counters."""
    from plugbay.cost.shared import SharedState

    shared = SharedState(redis_url, prefix="pbpool")
    store = shared.budget_store()
    caplog.set_level(logging.WARNING, logger="plugbay")
    try:
        outs = await asyncio.gather(*(store.reserve([("b", 1000.0, 60)], 1.0, f"h{i}")
                                      for i in range(300)))
        assert outs == [None] * 300
        _, held = await store.read("b")
        assert held == pytest.approx(300.0)  # every hold is in Redis
    finally:
        await shared.aclose()
    assert not [r for r in caplog.records if "fall back" in r.getMessage()]
