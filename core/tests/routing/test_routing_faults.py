"""The fault-injection suite: real sockets, the OpenAI wire format through the installed
openai plugin, two or three provider instances of it. Every test asserts which target
answered, the attempt count, the error type and that the call ended within its
deadline (plus a small margin). No test can hang: each has a pytest-timeout mark."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.server import FakeServer, Reply

from .conftest import client, config, error, ok, path, sse_events, sse_ok

DEADLINE = 3.0
MARGIN = 0.5
ROUTE = {"strategy": "priority", "targets": ["a/m", "b/m"], "deadline": DEADLINE,
         "attempt_timeout": 1.0, "ttft_timeout": 0.5, "idle_timeout": 0.5}
pytestmark = pytest.mark.timeout(20)


def tried(exc_or_completion: Any) -> list[tuple[str, str, str | None]]:
    trace = exc_or_completion.trace
    return [(a.target, a.outcome, a.error) for a in trace.attempts]


async def routed(srv: FakeServer, route: dict[str, Any] | None = None, **kw: Any,
                 ) -> plugbay.Client:
    return client(srv, {"r": route or ROUTE}, **kw)


# ----------------------------------------------------------------- complete, with failover

FAILOVER_FAULTS = {
    "429 with Retry-After": (error(429, "slow down", headers={"retry-after": "7"}),
                             "RateLimitError"),
    "429 without Retry-After": (error(429, "slow down"), "RateLimitError"),
    "500": (error(500), "ProviderError"),
    "502": (error(502), "ProviderError"),
    "503": (error(503), "OverloadedError"),
    "529": (error(529, "overloaded"), "OverloadedError"),
    "reset mid-body": (Reply.truncated(b'{"id": "x", "choices": [{"mess'), "ConnectionError"),
    "reset before reply": (Reply.reset(), "ConnectionError"),
    "stall before headers": (Reply.stall(10), "TimeoutError"),
    "malformed JSON": (Reply.text("{this is not json", "application/json"),
                       "MalformedResponseError"),
    "claims gzip but is not": (Reply.bad_gzip(b'{"id": "x"}'), "ConnectionError"),
    "401 (second key on b)": (error(401, "bad key", code="invalid_api_key"),
                              "AuthenticationError"),
}


@pytest.mark.parametrize("fault", list(FAILOVER_FAULTS))
async def test_complete_fails_over(srv: FakeServer, fault: str) -> None:
    reply, kind = FAILOVER_FAULTS[fault]
    srv.add("POST", path("a"), reply)
    srv.add("POST", path("b"), ok("from b"))
    async with await routed(srv) as c:
        started = time.monotonic()
        result = await c.acomplete("r", "hi")
        elapsed = time.monotonic() - started
    assert result.provider == "b" and result.text == "from b"
    assert tried(result) == [("a/m", "error", kind), ("b/m", "ok", None)]
    assert elapsed <= DEADLINE + MARGIN
    assert result.trace.attempts[0].waited == 0  # failover to another target does not wait
    if fault.startswith("401"):
        b_request = next(r for r in srv.requests if r.path == path("b"))
        assert b_request.headers["authorization"].endswith("sk-test-b-0123456789abcdef")


async def test_connection_refused_fails_over(srv: FakeServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again at once: nothing listens there
    cfg = config(srv, routes={"r": {**ROUTE, "targets": ["a/m", "b/m"]}})
    cfg["providers"]["a"]["base_url"] = f"http://127.0.0.1:{dead}/v1"
    srv.add("POST", path("b"), ok("from b"))
    async with plugbay.Client(cfg, env={}) as c:
        started = time.monotonic()
        result = await c.acomplete("r", "hi")
        assert time.monotonic() - started <= DEADLINE + MARGIN
    assert result.provider == "b"
    assert tried(result) == [("a/m", "error", "ConnectionError"), ("b/m", "ok", None)]


# ----------------------------------------------------------------- retries on one target

async def test_retry_after_is_honoured_on_the_same_target(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, "slow", headers={"retry-after": "0.4"}), ok("again"))
    async with await routed(srv, {**ROUTE, "targets": ["a/m"]}) as c:
        started = time.monotonic()
        result = await c.acomplete("r", "hi")
        elapsed = time.monotonic() - started
    assert result.text == "again"
    assert tried(result) == [("a/m", "error", "RateLimitError"), ("a/m", "ok", None)]
    assert result.trace.attempts[0].waited == pytest.approx(0.4)
    assert 0.4 <= elapsed <= DEADLINE + MARGIN


async def test_retry_after_ms_header(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, "slow", headers={"retry-after-ms": "250"}), ok())
    async with await routed(srv, {**ROUTE, "targets": ["a/m"]}) as c:
        result = await c.acomplete("r", "hi")
    assert result.trace.attempts[0].waited == pytest.approx(0.25)


async def test_retry_after_capped(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, "slow", headers={"retry-after": "3600"}), ok())
    async with await routed(srv, {**ROUTE, "targets": ["a/m"]},
                            routing={"retry_after_cap": 0.2}) as c:
        result = await c.acomplete("r", "hi")
    assert result.trace.attempts[0].waited == pytest.approx(0.2)


async def test_hint_longer_than_deadline_gives_up_at_once(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, "slow", headers={"retry-after": "10"}))
    async with await routed(srv, {**ROUTE, "targets": ["a/m"]}) as c:
        started = time.monotonic()
        with pytest.raises(errors.RateLimitError) as info:
            await c.acomplete("r", "hi")
        assert time.monotonic() - started < 1.0  # no pointless sleep past the deadline
    assert info.value.retry_after == 10
    assert tried(info.value) == [("a/m", "error", "RateLimitError")]


async def test_429_without_hint_backs_off_then_gives_up(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(429, "slow"))
    async with await routed(srv, {**ROUTE, "targets": ["a/m"], "max_attempts": 4}) as c:
        with pytest.raises(errors.RateLimitError) as info:
            await c.acomplete("r", "hi")
    assert [a.outcome for a in info.value.trace.attempts] == ["error"] * 4
    assert len(srv.requests) == 4


@pytest.mark.parametrize(("reply", "kind"), [
    (error(401, "bad key", code="invalid_api_key"), errors.AuthenticationError),
    (error(400, "bad request"), errors.InvalidRequestError),
    (error(400, "maximum context length exceeded", code="context_length_exceeded"),
     errors.ContextLengthError),
])
async def test_never_retried(srv: FakeServer, reply: Reply, kind: type) -> None:
    srv.add("POST", path("a"), reply)
    async with await routed(srv, {**ROUTE, "targets": ["a/m"]}) as c:
        with pytest.raises(kind) as info:
            await c.acomplete("r", "hi")
    assert type(info.value) is kind
    assert len(srv.requests) == 1 and len(info.value.trace.attempts) == 1


async def test_invalid_request_does_not_fail_over(srv: FakeServer) -> None:
    srv.add("POST", path("a"), error(400, "bad request"))
    srv.add("POST", path("b"), ok())
    async with await routed(srv) as c:
        with pytest.raises(errors.InvalidRequestError):
            await c.acomplete("r", "hi")
    assert [r.path for r in srv.requests] == [path("a")]


async def test_context_length_fails_over_to_larger_window(srv: FakeServer) -> None:
    route = {**ROUTE, "targets": [{"model": "a/m", "context_window": 8000},
                                  {"model": "b/m", "context_window": 4000},
                                  {"model": "c/m", "context_window": 128000}]}
    srv.add("POST", path("a"), error(400, "too long", code="context_length_exceeded"))
    srv.add("POST", path("b"), ok("b should be skipped"))
    srv.add("POST", path("c"), ok("from c"))
    async with client(srv, {"r": route}, providers=("a", "b", "c")) as c:
        result = await c.acomplete("r", "hi")
    assert result.provider == "c"
    assert tried(result) == [("a/m", "error", "ContextLengthError"), ("c/m", "ok", None)]


async def test_context_failover_can_be_switched_off(srv: FakeServer) -> None:
    route = {**ROUTE, "context_failover": False,
             "targets": [{"model": "a/m", "context_window": 8000},
                         {"model": "b/m", "context_window": 128000}]}
    srv.add("POST", path("a"), error(400, "too long", code="context_length_exceeded"))
    async with client(srv, {"r": route}) as c:
        with pytest.raises(errors.ContextLengthError):
            await c.acomplete("r", "hi")


@pytest.mark.parametrize("allowed", [False, True])
async def test_content_filter_failover_only_when_configured(srv: FakeServer,
                                                            allowed: bool) -> None:
    srv.add("POST", path("a"), error(400, "blocked", code="content_filter"))
    srv.add("POST", path("b"), ok("from b"))
    async with await routed(srv, {**ROUTE, "content_filter_failover": allowed}) as c:
        if allowed:
            assert (await c.acomplete("r", "hi")).provider == "b"
        else:
            with pytest.raises(errors.ContentFilterError):
                await c.acomplete("r", "hi")


# ----------------------------------------------------------------- deadlines, cancellation

async def test_total_deadline_spans_every_attempt(srv: FakeServer) -> None:
    srv.add("POST", path("a"), Reply.stall(10))
    srv.add("POST", path("b"), Reply.stall(10))
    route = {**ROUTE, "deadline": 1.5, "attempt_timeout": 1.0, "max_attempts": 10}
    async with await routed(srv, route) as c:
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError) as info:
            await c.acomplete("r", "hi")
        elapsed = time.monotonic() - started
    assert elapsed <= 1.5 + MARGIN
    assert [a.target for a in info.value.trace.attempts] == ["a/m", "b/m"]


async def test_call_timeout_overrides_route_deadline(srv: FakeServer) -> None:
    srv.add("POST", path("a"), Reply.stall(10))
    async with await routed(srv, {**ROUTE, "targets": ["a/m"], "attempt_timeout": None}) as c:
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError):
            await c.acomplete("r", "hi", timeout=0.4)
        assert time.monotonic() - started <= 0.4 + MARGIN


async def test_caller_cancellation_stops_the_attempt(srv: FakeServer) -> None:
    srv.add("POST", path("a"), Reply.stall(10))
    async with await routed(srv) as c:
        task = asyncio.ensure_future(c.acomplete("r", "hi"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.2
        state = c.router.states["a/m"]
        assert state.inflight == 0 and state.breaker.state == "closed"


# ----------------------------------------------------------------- streams

async def collect(stream: Any) -> list[Any]:
    return [e async for e in stream]


@pytest.mark.parametrize(("fault", "kind"), [
    ("503", "OverloadedError"),
    ("stall before headers", "TimeoutError"),
    ("stall before first token", "TimeoutError"),
    ("no events at all", "StreamError"),
    ("malformed first event", "StreamError"),
])
async def test_stream_fails_over_before_first_event(srv: FakeServer, fault: str,
                                                    kind: str) -> None:
    replies = {
        "503": error(503),
        "stall before headers": Reply.stall(10),
        "stall before first token": sse_ok(["x"], stall_after=0, stall=10),
        "no events at all": Reply.sse([]),
        "malformed first event": Reply.sse(["data: {nope\n\n"]),
    }
    srv.add("POST", path("a"), replies[fault])
    srv.add("POST", path("b"), sse_ok(["He", "llo"]))
    async with await routed(srv) as c:
        started = time.monotonic()
        stream = c.astream("r", "hi")
        await collect(stream)
        assert time.monotonic() - started <= DEADLINE + MARGIN
    completion = stream.completion
    assert completion is not None and completion.text == "Hello"
    assert completion.provider == "b" and completion.model == "m"
    assert tried(completion) == [("a/m", "error", kind), ("b/m", "ok", None)]
    assert completion.time_to_first_token is not None


@pytest.mark.parametrize("fault", ["stall mid-stream", "reset mid-stream", "no terminal event",
                                   "error event mid-stream"])
async def test_stream_fails_after_first_event_with_partial(srv: FakeServer, fault: str) -> None:
    events = sse_events(["Hel", "lo", " world"])  # role chunk, 3 text chunks, finish, usage, DONE
    replies = {
        "stall mid-stream": Reply.sse(events, stall_after=3, stall=10),
        "reset mid-stream": Reply.sse(events, cut_after=3),
        "no terminal event": Reply.sse(events[:5]),  # finish chunk but no [DONE]
        "error event mid-stream": Reply.sse([*events[:3], {"error": {
            "message": "overloaded", "type": "server_error", "code": 529}}]),
    }
    srv.add("POST", path("a"), replies[fault])
    srv.add("POST", path("b"), sse_ok(["never"]))
    async with await routed(srv) as c:
        started = time.monotonic()
        stream = c.astream("r", "hi")
        seen = []
        with pytest.raises(errors.StreamError) as info:
            async for event in stream:
                seen.append(event)
        assert time.monotonic() - started <= DEADLINE + MARGIN
    assert seen, "events reached the caller before the failure"
    assert info.value.partial == ("Hello world" if fault == "no terminal event" else "Hello")
    assert [a.target for a in info.value.trace.attempts] == ["a/m"]  # no failover after commit
    assert not any(r.path == path("b") for r in srv.requests)


async def test_stream_total_deadline(srv: FakeServer) -> None:
    slow = Reply.sse(sse_events(["a", "b", "c", "d", "e"]), chunk_delay=0.3)
    srv.add("POST", path("a"), slow)
    route = {**ROUTE, "deadline": 0.8, "idle_timeout": 5}
    async with await routed(srv, route) as c:
        started = time.monotonic()
        with pytest.raises(errors.StreamError) as info:
            await collect(c.astream("r", "hi"))
        assert time.monotonic() - started <= 0.8 + MARGIN
    assert isinstance(info.value.__cause__, errors.TimeoutError)


async def test_sync_stream_and_complete_through_route(srv: FakeServer) -> None:
    srv.add("POST", path("a"), sse_ok(["sync"]))
    with client(srv, {"r": ROUTE}) as c:
        with c.stream("r", "hi") as stream:
            text = "".join(getattr(e, "text", "") for e in stream)
        assert text == "sync" and stream.completion.trace.target == "a/m"


async def test_stream_closed_early_releases_target(srv: FakeServer) -> None:
    srv.add("POST", path("a"), Reply.sse(sse_events(["a", "b"]), stall_after=3, stall=10))
    async with await routed(srv, {**ROUTE, "idle_timeout": 5}) as c:
        async with c.astream("r", "hi") as stream:
            async for _ in stream:
                break
        state = c.router.states["a/m"]
        assert state.inflight == 0 and state.breaker.state == "closed"


# ----------------------------------------------------------------- one target: no failover

SINGLE = {  # fault -> (reply, error class, attempts made with max_attempts = 2)
    "429 with Retry-After": (error(429, "slow", headers={"retry-after": "0.2"}),
                             errors.RateLimitError, 2),
    "429 without Retry-After": (error(429, "slow"), errors.RateLimitError, 2),
    "500": (error(500), errors.ProviderError, 2),
    "502": (error(502), errors.ProviderError, 2),
    "503": (error(503), errors.OverloadedError, 2),
    "529": (error(529, "overloaded"), errors.OverloadedError, 2),
    "reset mid-body": (Reply.truncated(b'{"id": "x", "choi'), errors.ConnectionError, 2),
    "stall before headers": (Reply.stall(10), errors.TimeoutError, 2),
    "malformed JSON": (Reply.text("{this is not json", "application/json"),
                       errors.MalformedResponseError, 2),
    "claims gzip but is not": (Reply.bad_gzip(b'{"id": "x"}'), errors.ConnectionError, 2),
    "401": (error(401, "bad key", code="invalid_api_key"), errors.AuthenticationError, 1),
}


@pytest.mark.parametrize("fault", list(SINGLE))
async def test_single_target_fault(srv: FakeServer, fault: str) -> None:
    reply, kind, attempts = SINGLE[fault]
    srv.add("POST", path("a"), reply)
    route = {**ROUTE, "targets": ["a/m"], "max_attempts": 2}
    async with await routed(srv, route) as c:
        started = time.monotonic()
        with pytest.raises(kind) as info:
            await c.acomplete("r", "hi")
        elapsed = time.monotonic() - started
    assert type(info.value) is kind
    assert [(a.target, a.outcome) for a in info.value.trace.attempts] == \
        [("a/m", "error")] * attempts
    assert len(srv.requests) == attempts
    assert elapsed <= DEADLINE + MARGIN


async def test_stream_cancelled_while_waiting_for_first_event(srv: FakeServer) -> None:
    srv.add("POST", path("a"), sse_ok(["x"], stall_after=0, stall=10))
    async with await routed(srv, {**ROUTE, "ttft_timeout": 5, "attempt_timeout": 5}) as c:
        stream = c.astream("r", "hi")
        task = asyncio.ensure_future(collect(stream))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.2
        await stream.aclose()
        state = c.router.states["a/m"]
        assert state.inflight == 0 and state.breaker.state == "closed"


# ----------------------------------------------------------------- a plugin that raises


class Buggy:
    """An in-process plugin with a bug: every call raises a KeyError."""

    name = "buggy"

    @plugbay.hookimpl
    async def complete(self, request: Any, provider: Any) -> Any:
        return {}["choices"]

    @plugbay.hookimpl
    async def stream(self, request: Any, provider: Any) -> Any:
        raise KeyError("choices")
        yield  # an async generator


@pytest.mark.parametrize("streamed", [False, True])
async def test_foreign_exception_fails_over_and_counts(srv: FakeServer, streamed: bool) -> None:
    srv.add("POST", path("a"), sse_ok(["from ", "a"]) if streamed else ok("from a"))
    route = {**ROUTE, "targets": ["buggy/m", "a/m"]}
    async with plugbay.Client(config(srv, routes={"r": route}), env={},
                              plugins=[Buggy()]) as client:
        if streamed:
            stream = client.astream("r", "hi")
            answer = await stream.get_completion()
        else:
            answer = await client.acomplete("r", "hi")
        assert answer.text == "from a"
        assert tried(answer) == [("buggy/m", "error", "PluginCallError"), ("a/m", "ok", None)]
        state = client.router.states["buggy/m"]
        assert state.breaker.info().failures == 1


async def test_foreign_exception_direct_is_wrapped_with_its_cause(srv: FakeServer) -> None:
    async with plugbay.Client(config(srv), env={}, plugins=[Buggy()]) as client:
        with pytest.raises(errors.PluginCallError, match="buggy plugin raised KeyError") as e:
            await client.acomplete("buggy/m", "hi")
        assert isinstance(e.value.__cause__, KeyError)
        assert isinstance(e.value, errors.APIError) and not e.value.retryable
        with pytest.raises(errors.PluginCallError):
            await client.astream("buggy/m", "hi").get_completion()


# ----------------------------------------------------------------- default attempt limit


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_black_holed_first_target_leaves_time_to_fail_over(srv: FakeServer,
                                                                   streamed: bool) -> None:
    """With no attempt_timeout, each of n targets gets a 1/n share of the deadline."""
    hang = (sse_ok(["never"], delay=30) if streamed else ok("never", delay=30))
    srv.add("POST", path("a"), hang)
    srv.add("POST", path("b"), sse_ok(["from ", "b"]) if streamed else ok("from b"))
    route = {"strategy": "priority", "targets": ["a/m", "b/m"], "deadline": 2.0}
    async with await routed(srv, route) as c:
        started = time.monotonic()
        if streamed:
            answer = await c.astream("r", "hi").get_completion()
        else:
            answer = await c.acomplete("r", "hi")
        took = time.monotonic() - started
    assert answer.text == "from b"
    assert [(t, o) for t, o, _ in tried(answer)] == [("a/m", "error"), ("b/m", "ok")]
    assert 0.9 <= took < 2.0
