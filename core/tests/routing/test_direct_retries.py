"""A direct call (``provider/model``) retries like the official SDKs: twice by default,
on retryable errors only, after Retry-After or a jittered backoff, inside its deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.server import FakeServer, Reply

from .conftest import config, error, ok, path, sse_ok

pytestmark = pytest.mark.timeout(20)


def client(srv: FakeServer, **routing: Any) -> plugbay.Client:
    return plugbay.Client(config(srv, routing=routing), env={})


@pytest.mark.parametrize("fault", [error(500), error(503), error(529), error(429),
                                   Reply.reset()])
async def test_a_retryable_fault_is_retried(srv: FakeServer, fault: Reply) -> None:
    srv.add("POST", path("a"), fault, ok("second time"))
    async with client(srv) as c:
        answer = await c.acomplete("a/m", "hi")
    assert answer.text == "second time" and len(srv.requests) == 2


async def test_twice_by_default_then_the_error(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(500))
    async with client(srv) as c:
        with pytest.raises(errors.ProviderError):
            await c.acomplete("a/m", "hi")
    assert len(srv.requests) == 3


async def test_retries_can_be_switched_off(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(500), ok())
    async with client(srv, retries=0) as c:
        with pytest.raises(errors.ProviderError):
            await c.acomplete("a/m", "hi")
    assert len(srv.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_a_request_or_key_error_is_not_retried(srv: FakeServer, status: int) -> None:
    srv.add("POST", path("a"), error(status), ok())
    async with client(srv) as c:
        with pytest.raises(errors.APIError):
            await c.acomplete("a/m", "hi")
    assert len(srv.requests) == 1


async def test_retry_after_is_honoured(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, headers={"retry-after": "0.4"}), ok())
    async with client(srv) as c:
        started = time.monotonic()
        await c.acomplete("a/m", "hi")
    assert time.monotonic() - started >= 0.4 and len(srv.requests) == 2


async def test_no_retry_that_cannot_finish_inside_the_deadline(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, headers={"retry-after": "5"}), ok())
    async with client(srv) as c:
        started = time.monotonic()
        with pytest.raises(errors.RateLimitError):
            await c.acomplete("a/m", "hi", timeout=1.0)
    assert time.monotonic() - started < 0.5 and len(srv.requests) == 1


async def test_every_attempt_fits_in_the_call_timeout(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(500), ok(delay=5))
    async with client(srv, backoff_base=0.01) as c:
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError):
            await c.acomplete("a/m", "hi", timeout=0.6)
    assert time.monotonic() - started < 0.6 + 0.3


async def test_a_stream_is_retried_before_its_first_event(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(503), sse_ok(["he", "llo"]))
    async with client(srv) as c:
        answer = await c.astream("a/m", "hi").get_completion()
    assert answer.text == "hello" and len(srv.requests) == 2


async def test_a_stream_is_not_retried_after_its_first_event(srv: FakeServer) -> None:
    from .conftest import sse_events

    # the role chunk, then "he" reaches the caller, then the connection drops
    srv.add("POST", path("a"), Reply.sse(sse_events(["he", "llo"]), cut_after=2),
            sse_ok(["x"]))
    async with client(srv) as c:
        stream = c.astream("a/m", "hi")
        with pytest.raises(errors.APIError):
            await stream.get_completion()
    assert stream.text == "he" and len(srv.requests) == 1
