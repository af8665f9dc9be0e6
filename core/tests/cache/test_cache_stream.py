"""Streams through the cache layer: a hit replays the original's events, in order, and
gives what the client needs to build the same completion; a stream that did not end
normally with a finish event is never stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from plugbay import errors
from plugbay.cache.layer import CacheLayer
from plugbay.cache.memory import MemoryStore
from plugbay.call import Call
from plugbay.pipeline import Pipeline, compose
from plugbay.streaming import StreamCollector
from plugbay.testing.server import FakeServer, Reply
from plugbay.types import Completion, TextDelta, Usage, UsageEvent

from .harness import COST, USAGE, WIRE, Harness, path, sse

PIECES = ["Once", " upon", " a", " time"]


async def drain(pipe: Pipeline, call: Call) -> list[Any]:
    return [event async for event in pipe.stream(call)]


def rebuild(events: list[Any], call: Call) -> Completion:
    """What the client builds from a stream and the call's outcome."""
    collector = StreamCollector()
    for event in events:
        collector.add(event)
    assert call.outcome.provider is not None and call.outcome.model is not None
    completion = collector.build(model=call.outcome.model, provider=call.outcome.provider)
    completion.price = call.outcome.price
    return completion


TIMING = {"latency", "time_to_first_token", "trace"}


@pytest.mark.parametrize("raw", [False, True], ids=["client-stream", "plugin-stream"])
async def test_a_replayed_stream_equals_the_original(srv: FakeServer, harness: Harness,
                                                     raw: bool) -> None:
    srv.add("POST", path("a"), sse(PIECES))
    harness.raw = raw
    saved: list[Any] = []
    pipe = harness.pipeline(CacheLayer(MemoryStore(), on_hit=lambda c, x, s: saved.append(
        (c, x, s))))
    first = harness.call("tell me a story", stream=True)
    original = await drain(pipe, first)
    assert first.outcome.cache == "miss"
    assert [e.type for e in original].count("finish") == 1
    second = harness.call("tell me a story", stream=True)
    replay = await drain(pipe, second)
    assert len(srv.requests) == 1
    assert replay == original and all(a is not b for a, b in zip(replay, original, strict=True))
    assert second.outcome.cache == "hit"
    assert (second.outcome.provider, second.outcome.model) == ("a", "m")
    assert second.outcome.saved == pytest.approx(COST)
    assert saved == [(second, None, second.outcome.saved)]
    rebuilt = rebuild(replay, second)
    assert rebuilt.text == "".join(PIECES) and rebuilt.cost is not None
    if not raw:  # the client's own completion of the original stream
        assert harness.last_stream is not None and harness.last_stream.completion
        assert rebuilt.model_dump(exclude=TIMING) == \
            harness.last_stream.completion.model_dump(exclude=TIMING)


async def test_stream_and_complete_keep_separate_entries(srv: FakeServer,
                                                         harness: Harness) -> None:
    srv.add("POST", path("a"), sse(PIECES))
    pipe = harness.pipeline(CacheLayer(MemoryStore()))
    await drain(pipe, harness.call(stream=True))
    srv.add("POST", path("a"), Reply.json(WIRE.completion(
        "m", {"role": "assistant", "content": "whole"}, "stop", USAGE)))
    done = harness.call()
    assert (await pipe.complete(done)).text == "whole" and done.outcome.cache == "miss"


async def test_a_cut_stream_is_not_stored(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), sse(PIECES, cut_after=3), sse(PIECES))
    store = MemoryStore()
    pipe = harness.pipeline(CacheLayer(store))
    with pytest.raises(errors.APIError):
        await drain(pipe, harness.call(stream=True))
    assert len(store) == 0
    again = harness.call(stream=True)
    assert len(await drain(pipe, again)) > 3 and again.outcome.cache == "miss"
    assert len(srv.requests) == 2 and len(store) == 1


async def test_a_failed_stream_is_not_stored(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), Reply.json({"error": {"message": "down"}}, status=500))
    store = MemoryStore()
    pipe = harness.pipeline(CacheLayer(store))
    with pytest.raises(errors.ProviderError):
        await drain(pipe, harness.call(stream=True))
    assert len(store) == 0


class Quiet:
    """A bottom whose stream ends quietly, without a finish event (the openai plugin
    always sends one, so this stands for a plugin that does not)."""

    calls = 0

    async def complete(self, call: Call) -> Completion:
        raise NotImplementedError

    async def stream(self, call: Call) -> AsyncIterator[Any]:
        self.calls += 1
        yield TextDelta(text="cut short")
        yield UsageEvent(usage=Usage(input_tokens=1, output_tokens=2))


async def test_a_stream_without_a_finish_event_is_not_stored(harness: Harness) -> None:
    bottom, store = Quiet(), MemoryStore()
    pipe = compose([CacheLayer(store)], bottom)
    got = await drain(pipe, harness.call(stream=True))
    assert [e.type for e in got] == ["text", "usage"] and len(store) == 0
    await drain(pipe, harness.call(stream=True))
    assert bottom.calls == 2


async def test_an_abandoned_stream_is_not_stored(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), sse(PIECES, chunk_delay=0.02))
    store = MemoryStore()
    pipe = harness.pipeline(CacheLayer(store))
    events = pipe.stream(harness.call(stream=True))
    first = await events.__anext__()
    assert first.type == "text"
    await events.aclose()  # type: ignore[attr-defined]
    assert len(store) == 0
    again = harness.call(stream=True)
    await drain(pipe, again)
    assert again.outcome.cache == "miss" and len(srv.requests) == 2


async def test_stream_modes(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), sse(["one"]), sse(["two"]), sse(["three"]))
    store = MemoryStore()
    pipe = harness.pipeline(CacheLayer(store))

    def text(events: list[Any]) -> str:
        return "".join(e.text for e in events if e.type == "text")

    assert text(await drain(pipe, harness.call(stream=True, cache="no-store"))) == "one"
    assert len(store) == 0
    assert text(await drain(pipe, harness.call(stream=True))) == "two"
    assert text(await drain(pipe, harness.call(stream=True, cache="no-store"))) == "two"
    fresh = harness.call(stream=True, cache="no-cache")
    assert text(await drain(pipe, fresh)) == "three" and fresh.outcome.cache == "miss"
    assert text(await drain(pipe, harness.call(stream=True))) == "three"
    off = harness.call(stream=True, cache="off")
    await drain(pipe, off)
    assert off.outcome.cache is None and len(srv.requests) == 4
