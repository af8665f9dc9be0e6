"""``CacheLayer``: answer a call from the response cache, or make it once and keep it.

Per-call mode (``call.cache``):

- ``None``: read the cache, join an identical call in flight, store what comes back;
- ``"no-cache"``: skip the read (always ask the provider), still store the answer;
- ``"no-store"``: read and join, but never store this call's answer;
- ``"off"``: the layer steps aside.

``call.ttl`` (seconds) replaces the configured lifetime for what this call stores; a
``ttl`` of 0 or less stores nothing. Errors, completions whose ``finish_reason`` is
``"error"`` and streams that did not end normally with a finish event are never stored.

Single flight: identical calls in flight in one process wait for the first (see
``flight.py``); with a shared store (SQLite, Redis) the leader also holds a short lock
it keeps extending, and leaders in other processes poll for the entry until it appears
or the lock goes. Every waiting call keeps its own deadline.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.cache.entry import (
    decode_completion,
    decode_embeddings,
    decode_stream,
    encode_completion,
    encode_embeddings,
    encode_stream,
    saved_cost,
)
from plugbay.cache.flight import Flight, Origin, copy_error
from plugbay.cache.key import cache_key, where
from plugbay.cache.steps import DEFAULT_TTL, CacheSteps, OnHit
from plugbay.pipeline import CompleteNext, EmbedNext, Layer, StreamNext

if TYPE_CHECKING:
    from collections.abc import Callable

    from plugbay.cache.entry import StreamEntry
    from plugbay.call import Call
    from plugbay.embeddings import Embeddings
    from plugbay.types import Completion, StreamEvent

    # how one kind of awaited answer is written to and read from an entry
    Codec = tuple[Callable[[bytes], tuple[Any, float | None]], Callable[[Any], bytes]]

__all__ = ["DEFAULT_TTL", "MODES", "CacheLayer", "OnHit"]

MODES = (None, "no-cache", "no-store", "off")
_COMPLETION: Codec = (decode_completion, encode_completion)
_EMBEDDINGS: Codec = (decode_embeddings, encode_embeddings)
_NESTED = frozenset({"usage", "finish"})  # events holding a model or a dict: copy deep


class _TakeOver(Exception):
    """A stream's leader gave up before this follower had yielded anything."""


def _mode(call: Call) -> str | None:
    mode = call.cache
    if mode not in MODES:
        raise ValueError(f"cache={mode!r} is not a cache mode; use None, 'no-cache', "
                         "'no-store' or 'off'")
    return mode


def _origin(entry: StreamEntry) -> Origin:
    return entry.provider, entry.model, entry.price, entry.saved


async def _aclose(events: Any) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


class CacheLayer(CacheSteps, Layer):
    """The response cache over ``store`` (a ``plugbay.cache.base.Store``).

    ``ttl`` is the lifetime of an entry in seconds (``None``: until evicted);
    ``namespace`` keeps apart caches that share a store; ``on_hit(call, completion,
    saved)`` runs on every hit, sync or async (``completion`` is ``None`` for a stream,
    ``saved`` what the original call cost); ``timeout`` is the client's default deadline,
    for a waiting call that has none of its own; ``lock_ttl`` the life of a cross-process
    lock between renewals; ``backoff`` how long a failed store is left alone; ``poll``
    the first and longest pause of a call waiting on another process.
    """

    name = "cache"

    # ------------------------------------------------------------------ complete, embed

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        got: Completion = await self._answer(call, next, _COMPLETION)
        return got

    async def embed(self, call: Call, next: EmbedNext) -> Embeddings:
        """One batch of embeddings, cached and shared in flight as a completion is (its
        key holds the inputs, model, dimensions, input type and encoding)."""
        got: Embeddings = await self._answer(call, next, _EMBEDDINGS)
        return got

    async def _answer(self, call: Call, next: Any, codec: Codec) -> Any:
        mode = _mode(call)
        if mode == "off":
            return await next(call)
        key = cache_key(call, self.namespace)
        table = self._flights.table()
        decode = codec[0]
        while True:
            if mode != "no-cache":
                found = await self._read(key, decode)
                if found is not None:
                    return await self._hit(call, *found[1])
                flight = table.get(key)
                if flight is not None:
                    shared = await self._follow(call, flight, decode)
                    if shared is not None:
                        return await self._hit(call, *shared)
                    continue  # the leader gave up: lead, or follow a new one
            call.outcome.cache = "miss"
            if mode == "no-store":
                return await next(call)
            return await self._lead(call, next, key, mode, table, codec)

    async def _follow(self, call: Call, flight: Flight,
                      decode: Callable[[bytes], tuple[Any, float | None]],
                      ) -> tuple[Any, float | None] | None:
        end = self._end(call)
        while flight.state is None:
            await self._wait(call, flight, end)
        if flight.state == "ok":
            if flight.entry is not None:
                return decode(flight.entry)
            copy = flight.value.model_copy(deep=True)
            return copy, saved_cost(copy.usage, copy.price)
        if flight.state == "error" and flight.error is not None:
            raise copy_error(flight.error) from flight.error
        return None

    async def _lead(self, call: Call, next: Any, key: str, mode: str | None,
                    table: dict[str, Flight], codec: Codec) -> Any:
        flight = self._board(table, key)
        token: str | None = None
        try:
            if self._store.shared and mode is None:
                token, found = await self._lock(call, key, codec[0])
                if found is not None:
                    self._land(table, key, flight, entry=found[0])
                    return await self._hit(call, *found[1])
            renew = self._renew(key, token)
            try:
                completion = await next(call)
            finally:
                await self._stop(renew)
            entry = self._encode(codec[1], completion)
            self._land(table, key, flight, entry=entry, value=completion, keep=True)
            if entry is not None and getattr(completion, "finish_reason", None) != "error":
                await self._keep(key, entry, call, mode)
            self._land(table, key, flight)
        except BaseException as exc:
            self._crash(table, key, flight, exc)
            raise
        finally:
            if token is not None:
                await self._store.release(key, token)
        return completion

    # ------------------------------------------------------------------ stream

    def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        if _mode(call) == "off":
            return next(call)
        return self._stream(call, next)

    async def _stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        mode = call.cache
        key = cache_key(call, self.namespace)
        table = self._flights.table()
        while True:
            if mode != "no-cache":
                found = await self._read(key, decode_stream)
                if found is not None:
                    entry = found[1]
                    await self._record(call, _origin(entry), None)
                    for event in entry.events:
                        yield event
                    return
                flight = table.get(key)
                if flight is not None:
                    follow = self._follow_stream(call, flight)
                    try:
                        async for event in follow:
                            yield event
                        return
                    except _TakeOver:
                        continue
                    finally:  # now, not when collected: a closed stream lets go at once
                        await follow.aclose()
            call.outcome.cache = "miss"
            break
        if mode == "no-store":
            upstream = next(call)
            try:
                async for event in upstream:
                    yield event
            finally:
                await _aclose(upstream)
            return
        lead = self._lead_stream(call, next, key, mode, table)
        try:
            async for event in lead:
                yield event
        finally:
            await lead.aclose()

    async def _follow_stream(self, call: Call, flight: Flight,
                             ) -> AsyncGenerator[StreamEvent, None]:
        call.outcome.cache = "hit"
        end = self._end(call)
        sent = 0
        while True:
            events = flight.events
            while sent < len(events):
                event = events[sent]
                sent += 1
                yield event.model_copy(deep=event.type in _NESTED)
            if flight.state is not None:
                break
            await self._wait(call, flight, end)
        if flight.state == "ok":
            if flight.meta is not None:
                await self._record(call, flight.meta, None)
            return
        if flight.state == "error" and flight.error is not None:
            raise copy_error(flight.error) from flight.error
        if not sent:
            raise _TakeOver
        raise errors.StreamError("the identical stream this call was sharing stopped when "
                                 "its first caller left; call again", provider=where(call))

    async def _lead_stream(self, call: Call, next: StreamNext, key: str, mode: str | None,
                           table: dict[str, Flight]) -> AsyncGenerator[StreamEvent, None]:
        flight = self._board(table, key)
        token: str | None = None
        try:
            if self._store.shared and mode is None:
                token, found = await self._lock(call, key, decode_stream)
                if found is not None:
                    stored = found[1]
                    if flight is not None:
                        flight.events = list(stored.events)
                        flight.meta = _origin(stored)
                    self._land(table, key, flight, entry=found[0])
                    await self._record(call, _origin(stored), None)
                    for event in stored.events:
                        yield event
                    return
            events: list[Any] = flight.events if flight is not None else []
            finished = False
            upstream = next(call)
            renew = self._renew(key, token)
            try:
                async for event in upstream:
                    events.append(event)
                    if event.type == "finish":
                        finished = event.reason != "error"
                    if flight is not None and flight.waiter is not None:
                        flight.wake()
                    yield event
            finally:
                await self._stop(renew)
                await _aclose(upstream)
            meta = self._who(call, events)
            if flight is not None:
                flight.meta = meta
            entry = None
            if finished and meta is not None:
                entry = self._encode(encode_stream, *meta, events)
            self._land(table, key, flight, entry=entry, keep=True)
            if entry is not None:
                await self._keep(key, entry, call, mode)
            self._land(table, key, flight)
        except BaseException as exc:  # GeneratorExit too: the caller left mid-stream
            self._crash(table, key, flight, exc)
            raise
        finally:
            if token is not None:
                await self._store.release(key, token)
