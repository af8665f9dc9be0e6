"""500 concurrent calls through a route while one target fails half the time: every
call ends within its deadline with a completion or a typed error, and the breaker
opens, lets exactly one trial through when half-open, and closes again."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from plugbay import errors
from plugbay.routing.breaker import CLOSED, HALF_OPEN, OPEN
from plugbay.testing.server import FakeServer, RecordedRequest, Reply

from .conftest import client, error, ok, path

DEADLINE = 5.0
COOLDOWN = 0.5


@pytest.mark.timeout(60)
async def test_500_concurrent_calls_with_a_flaky_target(srv: FakeServer) -> None:
    flip = itertools.count()

    def flaky(req: RecordedRequest) -> Reply:
        return error(500, "flaky") if next(flip) % 2 else ok("from a")

    srv.add("POST", path("a"), flaky)
    srv.add("POST", path("b"), ok("from b"))
    route = {"strategy": "priority", "targets": ["a/m", "b/m"], "deadline": DEADLINE,
             "attempt_timeout": 2.0}
    routing = {"retry_budget": 1.0, "retry_budget_min": 100,
               "breaker": {"threshold": 5, "window": 10, "cooldown": COOLDOWN}}
    async with client(srv, {"r": route}, routing=routing) as c:

        async def one() -> tuple[float, object]:
            started = time.monotonic()
            try:
                result: object = await c.acomplete("r", "hi")
            except errors.APIError as exc:
                result = exc
            return time.monotonic() - started, result

        outcomes = await asyncio.gather(*(one() for _ in range(500)))
        assert all(elapsed <= DEADLINE + 1.0 for elapsed, _ in outcomes)
        done = [r for _, r in outcomes if not isinstance(r, errors.APIError)]
        failed = [r for _, r in outcomes if isinstance(r, errors.APIError)]
        assert len(done) + len(failed) == 500
        assert all(r.text in ("from a", "from b") for r in done)  # type: ignore[attr-defined]
        assert len(done) >= 450, [repr(f) for f in failed[:5]]
        breaker = c.router.states["a/m"].breaker
        assert breaker.opened >= 1 and OPEN in [s for _, s in breaker.transitions]
        assert c.router.states["a/m"].inflight == 0 == c.router.states["b/m"].inflight

        # Recovery: a heals; after the cooldown a burst finds it half-open, exactly one
        # call is the trial (made slow so the rest of the burst overlaps it), and its
        # success closes the circuit.
        srv.add("POST", path("a"), ok("healed", delay=0.3))
        if breaker.state != OPEN:
            breaker.trip()
        await asyncio.sleep(COOLDOWN + 0.05)
        before = len([r for r in srv.requests if r.path == path("a")])
        burst = await asyncio.gather(*(c.acomplete("r", "hi") for _ in range(50)))
        trials = len([r for r in srv.requests if r.path == path("a")]) - before
        assert trials == 1
        assert sum(r.provider == "a" for r in burst) == 1
        assert breaker.state == CLOSED
        states = [s for _, s in breaker.transitions]
        assert states[-2:] == [HALF_OPEN, CLOSED]
        info = {i.key: i for i in c.circuits()}
        assert info["a/m"].state == "closed" and info["b/m"].state == "closed"
        later = await c.acomplete("r", "hi")
        assert later.provider == "a"
