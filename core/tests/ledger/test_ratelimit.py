"""Client-side rate limits (requests and tokens per minute, wait or raise) and adapting
to the providers' rate-limit headers."""

from __future__ import annotations

import asyncio
import time

import pytest

from plugbay import errors
from plugbay.cost.ratelimit import (
    LimitSpec,
    MemoryLimitStore,
    RateLimiter,
    parse_rate_limits,
    server_block,
)
from plugbay.testing.server import FakeServer, Reply

from .conftest import chat, make, ok

pytestmark = pytest.mark.timeout(30)


def test_rpm_raise_mode_admits_exactly_the_limit(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok())
    limits = {"openai": {"rpm": 5, "on_limit": "raise"}}
    with make(srv, None, rate_limits=limits) as client:
        for _ in range(5):
            client.complete("openai/gpt-4o-mini", "hi")
        with pytest.raises(errors.RateLimitError, match="client-side") as info:
            client.complete("openai/gpt-4o-mini", "hi")
        assert info.value.code == "client_rate_limit" and 0 < info.value.retry_after <= 60
        (status,) = client.rate_limits()
    assert status["provider"] == "openai" and status["requests"] == 5 and status["rpm"] == 5
    assert len(srv.requests) == 5


async def test_tpm_counts_estimates_then_real_usage() -> None:
    now = [1000.0]
    limiter = RateLimiter({"p": LimitSpec(tpm=1000, on_limit="raise")},
                          MemoryLimitStore(lambda: now[0]), clock=lambda: now[0])
    key = limiter.key("p", "sk-1")
    permit = await limiter.acquire("p", key, 900)
    with pytest.raises(errors.RateLimitError):
        await limiter.acquire("p", key, 200)
    await limiter.settle(permit, 300)  # the call used fewer tokens than estimated
    await limiter.acquire("p", key, 600)
    with pytest.raises(errors.RateLimitError) as info:
        await limiter.acquire("p", key, 200)
    assert info.value.retry_after == pytest.approx(60.0)
    now[0] += 61  # the window slides past both calls
    await limiter.acquire("p", key, 1000)


async def test_wait_mode_waits_for_the_window() -> None:
    now = [5000.0]
    store = MemoryLimitStore(lambda: now[0])
    limiter = RateLimiter({"p": LimitSpec(rpm=1, on_limit="wait", max_wait=120)}, store,
                          clock=lambda: now[0])
    key = limiter.key("p", None)
    await limiter.acquire("p", key, 0)
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay
        await real_sleep(0)

    asyncio.sleep = fake_sleep  # type: ignore[assignment]
    try:
        await limiter.acquire("p", key, 0)
    finally:
        asyncio.sleep = real_sleep  # type: ignore[assignment]
    assert sum(slept) == pytest.approx(60.0)


def test_keys_are_per_instance_and_api_key() -> None:
    limiter = RateLimiter({})
    assert limiter.key("a", "k1") != limiter.key("a", "k2") != limiter.key("b", "k1")
    assert "k1" not in limiter.key("a", "k1")  # the key is hashed


def test_server_headers_block_until_reset() -> None:
    now = 1_000_000.0
    assert server_block({"remaining-requests": 0, "reset-requests": "1.5s"}, now) == now + 1.5
    assert server_block({"remaining-tokens": 0, "reset-tokens": "6m0s"}, now) == now + 360
    assert server_block({"requests-remaining": 0,
                         "requests-reset": "1970-01-12T13:46:50Z"}, now) == pytest.approx(
        1_000_010.0)
    assert server_block({"remaining-requests": 3, "reset-requests": "1s"}, now) is None


def test_provider_headers_adapt_the_limiter(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok(headers={"x-ratelimit-remaining-requests": "0",
                                        "x-ratelimit-reset-requests": "30s",
                                        "x-ratelimit-limit-requests": "100"}))
    with make(srv, None, rate_limits={"openai": {"rpm": 1000, "on_limit": "raise"}}) as client:
        client.complete("openai/gpt-4o-mini", "hi")
        with pytest.raises(errors.RateLimitError) as info:
            client.complete("openai/gpt-4o-mini", "hi")
        assert 25 < (info.value.retry_after or 0) <= 30
        (status,) = client.rate_limits()
        assert status["server"]["limit-requests"] == 100 and status["blocked_for"] > 25
    assert len(srv.requests) == 1


def test_a_429_retry_after_blocks_the_key(srv: FakeServer) -> None:
    srv.add("POST", chat(), Reply.json({"error": {"message": "slow down", "type": "rate"}},
                                       status=429, headers={"retry-after": "20"}))
    with make(srv, None, rate_limits={"openai": {"on_limit": "raise"}}) as client:
        with pytest.raises(errors.RateLimitError, match="slow down"):
            client.complete("openai/gpt-4o-mini", "hi")
        with pytest.raises(errors.RateLimitError, match="client-side"):
            client.complete("openai/gpt-4o-mini", "hi")
    assert len(srv.requests) == 1


def test_status_without_configured_limits_reports_server_figures(srv: FakeServer) -> None:
    srv.add("POST", chat(), ok(headers={"x-ratelimit-remaining-tokens": "9000"}))
    with make(srv, None) as client:
        client.complete("openai/gpt-4o-mini", "hi")
        assert client.rate_limits() == [{"provider": "openai",
                                          "server": {"remaining-tokens": 9000}}]


def test_config_errors() -> None:
    with pytest.raises(errors.ConfigError, match="rpm"):
        parse_rate_limits({"openai": {"rpm": -1}})
    with pytest.raises(errors.ConfigError, match="on_limit"):
        parse_rate_limits({"openai": {"on_limit": "drop"}})
    assert parse_rate_limits({"x": {"tpm": 10}})["x"].on_limit == "wait"
    assert time.time() > 0


def test_router_prefers_targets_under_their_limit(srv: FakeServer) -> None:
    srv.add("POST", chat("a"), ok())
    srv.add("POST", chat("b"), ok())
    routes = {"r": {"strategy": "priority", "targets": ["a/gpt-4o-mini", "b/gpt-4o-mini"]}}
    limits = {"a": {"rpm": 2, "on_limit": "raise"}}
    with make(srv, None, providers=("a", "b"), routes=routes, rate_limits=limits) as client:
        got = [client.complete("r", "hi").provider for _ in range(4)]
        assert got == ["a", "a", "b", "b"]  # a's window is full: the filter moves on to b
        srv.add("POST", chat("b"), sse_ok_reply())
        client.stream("r", "hi").get_completion()  # a routed stream counts too
        (b_status,) = [s for s in client.rate_limits() if s["provider"] == "b"]
        assert b_status["requests"] == 3
    assert [r.path.split("/")[1] for r in srv.requests] == ["a", "a", "b", "b", "b"]


def sse_ok_reply() -> Reply:
    from .conftest import sse_ok

    return sse_ok(["x"])
