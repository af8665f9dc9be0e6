"""The sync stream (``client.stream``): events read ahead on the client's loop thread and
handed to the caller's thread through a bounded queue (issue 12), against a real server."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from itertools import islice
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay._sync import LoopThread, Relay
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
MODEL = "openai/gpt-4o-mini"
USAGE = {"input": 7, "output": 3}


def script(server: FakeServer, pieces: list[str], **kw: Any) -> None:
    events = WIRE.stream_events("gpt-4o-mini", [{"content": p} for p in pieces], "stop", USAGE)
    server.add("POST", WIRE.route(), Reply.sse(events, **kw))


def make(server: FakeServer) -> plugbay.Client:
    return WIRE.client(server, "openai", api_key="sk-test")


class Stalling:
    """An in-process plugin whose stream yields ``n`` text events, then waits (an upstream
    gone quiet); it records how many events were pulled and when it was closed."""

    name = "stall"

    def __init__(self, n: int) -> None:
        self.n = n
        self.pulled = 0
        self.closed = threading.Event()

    @plugbay.hookimpl
    async def stream(self, request: Any, provider: Any) -> Any:
        try:
            for i in range(self.n):
                self.pulled += 1
                yield plugbay.TextDelta(text=f"{i},")
            await asyncio.sleep(3600)
        finally:
            self.closed.set()


def test_events_in_order_and_completion_after_the_end(fake_server: FakeServer) -> None:
    pieces = [f"{i} " for i in range(600)]  # several read-ahead windows
    script(fake_server, pieces)
    with make(fake_server) as client, client.stream(MODEL, "hi") as stream:
        texts = []
        for event in stream:
            if event.type == "text":
                texts.append(event.text)
            if len(texts) == 1:
                assert stream.completion is None  # not before the end
    assert texts == pieces
    done = stream.completion
    assert done is not None and done.text == "".join(pieces) and done.finish_reason == "stop"
    assert done.usage is not None and done.usage.output_tokens == 3


def test_text_counts_only_the_events_taken(fake_server: FakeServer) -> None:
    pieces = [f"p{i}," for i in range(300)]
    script(fake_server, pieces)
    with make(fake_server) as client, client.stream(MODEL, "hi") as stream:
        taken = list(islice((e.text for e in stream if e.type == "text"), 3))
        time.sleep(0.1)  # let the read-ahead run
        assert taken == pieces[:3] and stream.text == "".join(taken)


def test_early_close_closes_the_upstream_promptly() -> None:
    plugin = Stalling(5)
    with plugbay.Client(env={}, plugins=[plugin]) as client:
        started = time.monotonic()
        with client.stream("stall/m", "hi") as stream:
            next(stream)
            time.sleep(0.1)  # the read-ahead now waits inside the quiet upstream
            assert not plugin.closed.is_set()
        assert plugin.closed.is_set()  # closed before close() returned
        assert time.monotonic() - started < 3


def test_slow_caller_holds_the_upstream_back() -> None:
    plugin = Stalling(20_000)
    with plugbay.Client(env={}, plugins=[plugin]) as client:
        with client.stream("stall/m", "hi") as stream:
            assert next(stream).text == "0,"
            time.sleep(0.3)  # a slow caller: a bounded read-ahead, not all 20,000
            assert plugin.pulled <= 200
            for i, event in enumerate(stream, start=1):
                assert event.text == f"{i},"
                if i == 1000:
                    break
        assert plugin.closed.is_set()


def test_stream_error_raised_in_the_callers_thread_with_partial(
        fake_server: FakeServer) -> None:
    chunk = WIRE.chunk("gpt-4o-mini", {"content": "part"})
    fake_server.add("POST", WIRE.route(), Reply.sse([chunk, chunk]))  # no finish event
    seen = []
    with (make(fake_server) as client, client.stream(MODEL, "hi") as stream,
          pytest.raises(errors.StreamError) as caught):
        for event in stream:
            seen.append(event.text)
    assert seen == ["part", "part"]
    assert caught.value.partial == "partpart" and caught.value.provider == "openai"
    assert stream.completion is None


def test_deadline_raises_timeout_error(fake_server: FakeServer) -> None:
    script(fake_server, ["a", "b", "c", "d"], stall_after=3, stall=10)
    with make(fake_server) as client:
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError), client.stream(MODEL, "hi", timeout=0.5) as s:
            for _ in s:
                pass
        assert time.monotonic() - started < 3


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="SIGINT reaches the main thread only")
def test_ctrl_c_while_waiting_interrupts_and_cancels_the_upstream() -> None:
    plugin = Stalling(2)
    main = threading.main_thread().ident
    assert main is not None
    # Ctrl-C as a terminal delivers it: Python's own handler, SIGINT not blocked. (An
    # earlier test in the same process can leave either changed; a CI run hung on that.)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        _ctrl_c(plugin, main)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _ctrl_c(plugin: Stalling, main: int) -> None:
    with plugbay.Client(env={}, plugins=[plugin]) as client:
        kick = threading.Timer(0.4, signal.pthread_kill, (main, signal.SIGINT))
        stream = client.stream("stall/m", "hi")  # no `with`: Ctrl-C alone must cancel
        with pytest.raises(KeyboardInterrupt):
            kick.start()
            for _ in stream:  # blocks on the quiet upstream until Ctrl-C
                pass
        kick.join()
        assert plugin.closed.wait(3)
        with client.stream("stall/m", "hi") as again:  # the loop thread still serves
            assert next(again).text == "0,"


async def test_works_from_a_thread_with_a_running_loop(fake_server: FakeServer) -> None:
    script(fake_server, ["in", " jupyter"])  # this test body runs on a running loop
    with make(fake_server) as client, client.stream(MODEL, "hi") as stream:
        text = "".join(e.text for e in stream if e.type == "text")
    assert text == "in jupyter" and stream.completion is not None


def test_relay_reads_ahead_at_most_high_items() -> None:
    pulled = 0

    async def source() -> Any:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield i

    runner = LoopThread()
    try:
        relay = Relay(runner, source(), high=16)
        assert next(relay) == 0
        time.sleep(0.2)  # a slow caller: the pump must stop, not read all 10,000
        assert pulled <= 17
        assert list(relay) == list(range(1, 10_000))
    finally:
        runner.stop()


def test_relay_holds_before_the_end_after_a_last_item() -> None:
    ended = threading.Event()

    async def source() -> Any:
        try:
            yield "a"
            yield "last"
        finally:
            ended.set()  # only once the pump pulls past "last", or the source is closed

    runner = LoopThread()
    try:
        relay = Relay(runner, source(), last=lambda item: item == "last")
        assert next(relay) == "a"
        time.sleep(0.1)
        assert not ended.is_set()  # "last" was read ahead, but not the end behind it
        assert list(relay) == ["last"]
        assert ended.is_set()
    finally:
        runner.stop()
