"""The cache layer on complete calls, over a real client and a FakeServer: hits, misses,
per-call modes, what is never stored, and a broken store or entry never failing a call."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from plugbay import errors
from plugbay.cache.key import cache_key
from plugbay.cache.layer import CacheLayer
from plugbay.cache.memory import MemoryStore
from plugbay.cache.sqlite import SQLiteStore
from plugbay.call import Call
from plugbay.testing.server import FakeServer, Reply
from plugbay.types import Completion

from .harness import COST, Harness, ok, path


class Hits:
    """An ``on_hit`` that remembers what it was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[Call, Completion | None, float | None]] = []

    def __call__(self, call: Call, completion: Completion | None, saved: float | None) -> None:
        self.seen.append((call, completion, saved))


def layer(store: Any = None, **kw: Any) -> CacheLayer:
    return CacheLayer(store if store is not None else MemoryStore(), **kw)


async def test_a_repeated_call_is_answered_from_the_cache(srv: FakeServer,
                                                          harness: Harness) -> None:
    srv.add("POST", path("a"), ok("bonjour"))
    hits = Hits()
    pipe = harness.pipeline(layer(on_hit=hits))
    first = harness.call("hello", temperature=0)
    original = await pipe.complete(first)
    assert first.outcome.cache == "miss" and first.outcome.saved is None
    assert "cache" not in original.extra and hits.seen == []
    second = harness.call("hello", temperature=0)
    answer = await pipe.complete(second)
    assert len(srv.requests) == 1
    assert answer.extra.pop("cache") == "hit"
    assert answer.model_dump(exclude={"trace"}) == original.model_dump(exclude={"trace"})
    assert second.outcome.cache == "hit"
    assert (second.outcome.provider, second.outcome.model) == ("a", "m")
    assert second.outcome.price == original.price
    assert second.outcome.saved == pytest.approx(COST)
    assert hits.seen == [(second, answer, second.outcome.saved)]


async def test_each_hit_is_a_fresh_object(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), ok("bonjour"))
    pipe = harness.pipeline(layer())
    original = await pipe.complete(harness.call())
    original.text = "mutated by the caller"
    one = await pipe.complete(harness.call())
    one.text, one.extra["mine"] = "mutated too", 1
    two = await pipe.complete(harness.call())
    assert two.text == "bonjour" and "mine" not in two.extra and two is not one


async def test_async_on_hit_is_awaited(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), ok())
    seen: list[float | None] = []

    async def on_hit(call: Call, completion: Completion | None, saved: float | None) -> None:
        seen.append(saved)

    pipe = harness.pipeline(layer(on_hit=on_hit))
    await pipe.complete(harness.call())
    await pipe.complete(harness.call())
    assert seen == [pytest.approx(COST)]


async def test_different_calls_do_not_share(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), ok("from a"))
    srv.add("POST", path("b"), ok("from b"))
    pipe = harness.pipeline(layer())
    calls = [harness.call(), harness.call(provider="b"), harness.call(temperature=0.5),
             harness.call(tools=[{"name": "t"}]), harness.call("other prompt")]
    for c in calls:
        await pipe.complete(c)
    assert len(srv.requests) == 5
    again = harness.call(provider="b")
    assert (await pipe.complete(again)).text == "from b" and again.outcome.cache == "hit"


async def test_no_cache_asks_again_and_stores(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), ok("old"), ok("new"))
    pipe = harness.pipeline(layer())
    await pipe.complete(harness.call())
    fresh = harness.call(cache="no-cache")
    assert (await pipe.complete(fresh)).text == "new" and fresh.outcome.cache == "miss"
    assert len(srv.requests) == 2
    assert (await pipe.complete(harness.call())).text == "new"  # it replaced the entry
    assert len(srv.requests) == 2


async def test_no_store_reads_but_never_writes(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), ok("one"), ok("two"), ok("three"))
    pipe = harness.pipeline(layer())
    assert (await pipe.complete(harness.call(cache="no-store"))).text == "one"
    assert (await pipe.complete(harness.call())).text == "two"  # nothing was stored
    hit = harness.call(cache="no-store")
    assert (await pipe.complete(hit)).text == "two" and hit.outcome.cache == "hit"
    assert len(srv.requests) == 2


async def test_off_steps_aside(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), ok("one"), ok("two"))
    pipe = harness.pipeline(layer())
    await pipe.complete(harness.call())
    off = harness.call(cache="off")
    assert (await pipe.complete(off)).text == "two" and off.outcome.cache is None
    with pytest.raises(ValueError, match="no-cache"):
        await pipe.complete(harness.call(cache="nocache"))


async def test_per_call_ttl(srv: FakeServer, harness: Harness) -> None:
    srv.add("POST", path("a"), *(ok(str(i)) for i in range(5)))
    store = MemoryStore()
    pipe = harness.pipeline(layer(store, ttl=3600))
    await pipe.complete(harness.call("short", ttl=0.2))
    await pipe.complete(harness.call("none", ttl=0))  # 0: store nothing
    assert len(store) == 1
    assert (await pipe.complete(harness.call("short"))).extra.get("cache") == "hit"
    import asyncio

    await asyncio.sleep(0.3)
    again = harness.call("short")
    await pipe.complete(again)
    assert again.outcome.cache == "miss" and len(srv.requests) == 3


async def test_errors_are_never_cached(srv: FakeServer, harness: Harness) -> None:
    body = {"error": {"message": "bad request", "type": "invalid_request_error"}}
    srv.add("POST", path("a"), Reply.json(body, status=400), ok("fine"))
    store = MemoryStore()
    pipe = harness.pipeline(layer(store))
    with pytest.raises(errors.InvalidRequestError):
        await pipe.complete(harness.call())
    assert len(store) == 0
    assert (await pipe.complete(harness.call())).text == "fine"
    assert len(srv.requests) == 2


class ErrorFinish:
    """A bottom whose provider reports ``finish_reason = "error"`` in a normal answer."""

    calls = 0

    async def complete(self, call: Call) -> Completion:
        self.calls += 1
        return Completion(text="partial", finish_reason="error", model="m", provider="a")

    def stream(self, call: Call) -> Any:
        raise NotImplementedError


async def test_an_error_finish_is_not_stored(harness: Harness) -> None:
    from plugbay.pipeline import compose

    bottom = ErrorFinish()
    store = MemoryStore()
    pipe = compose([layer(store)], bottom)
    await pipe.complete(harness.call())
    await pipe.complete(harness.call())
    assert bottom.calls == 2 and len(store) == 0


async def test_a_corrupt_entry_is_a_miss_with_one_warning(
        srv: FakeServer, harness: Harness, caplog: pytest.LogCaptureFixture, tmp_path: Any,
) -> None:
    srv.add("POST", path("a"), ok("again"))
    store = SQLiteStore(tmp_path / "cache.db")
    cache = layer(store)
    pipe = harness.pipeline(cache)
    call = harness.call()
    await store.set(cache_key(call, "default"), b"pbc1{not json", None)
    with caplog.at_level(logging.WARNING, logger="plugbay.cache"):
        assert (await pipe.complete(call)).text == "again"
    assert call.outcome.cache == "miss"
    warnings = [r for r in caplog.records if r.name == "plugbay.cache"]
    assert len(warnings) == 1 and "unreadable" in warnings[0].getMessage()
    again = harness.call()
    assert (await pipe.complete(again)).text == "again" and again.outcome.cache == "hit"
    await store.aclose()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


async def test_redis_down_means_uncached_calls_and_one_warning(
        srv: FakeServer, harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis")
    from plugbay.cache.redis import RedisStore

    srv.add("POST", path("a"), ok("still here"))
    store = RedisStore(f"redis://127.0.0.1:{closed_port()}/0", prefix="pbtest-down")
    cache = layer(store, backoff=30)
    pipe = harness.pipeline(cache)
    with caplog.at_level(logging.WARNING, logger="plugbay.cache"):
        for _ in range(3):
            call = harness.call()
            assert (await pipe.complete(call)).text == "still here"
    assert len(srv.requests) == 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "plugbay.cache"]
    assert len(warnings) == 1 and "RedisStore" in warnings[0], warnings
    assert cache._store.down_until > 0  # left alone for the back-off, not tried per call
    await store.aclose()
