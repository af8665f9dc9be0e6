"""The call pipeline: an ordered stack of layers, each taking a ``Call`` and a ``next``.

A layer is any object with the two methods of ``Layer``; subclassing ``Layer`` gives
pass-through defaults, so a layer overrides only what it changes::

    class Audit(Layer):
        async def complete(self, call, next):
            log.info("calling %s", call.model)
            return await next(call)

``stream`` returns an async iterator of events; it may be an async generator, or
return ``next(call)`` untouched, which costs nothing per chunk. A layer may call
``next`` more than once (retries) or not at all (a cache hit, a refusal).

``embed(call, next)`` is the third operation (``client.embed``; ``call.request`` is an
``EmbedRequest`` and the answer ``Embeddings``). Its default passes through, so a layer
written for chat alone (or one without the method at all) never sees embeddings.

``compose`` joins the layers once, when the client is built; a call then runs as
plain nested calls. A layer that overrides none of the methods is left out of that path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.embeddings import Embeddings
    from plugbay.types import Completion, StreamEvent

__all__ = ["CompleteNext", "EmbedNext", "Layer", "Pipeline", "StreamNext", "compose"]

CompleteNext = Callable[["Call"], Awaitable["Completion"]]
StreamNext = Callable[["Call"], AsyncIterator["StreamEvent"]]
EmbedNext = Callable[["Call"], Awaitable["Embeddings"]]


class Layer:
    """One step of the call path. The base class passes both kinds of call through."""

    name: str = "layer"

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        return await next(call)

    def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        return next(call)

    async def embed(self, call: Call, next: EmbedNext) -> Embeddings:
        return await next(call)

    async def aclose(self) -> None:
        """Release what the layer holds (connections, background tasks)."""


class Pipeline:
    """The composed stack: ``complete(call)``, ``stream(call)`` and ``embed(call)`` run
    every layer."""

    __slots__ = ("complete", "embed", "layers", "stream")

    def __init__(self, layers: Sequence[Any], complete: Callable[[Call], Awaitable[Completion]],
                 stream: StreamNext, embed: EmbedNext | None = None) -> None:
        self.layers = tuple(layers)
        self.complete = complete
        self.stream = stream
        self.embed = embed if embed is not None else _no_embed

    def names(self) -> list[str]:
        return [getattr(layer, "name", type(layer).__name__) for layer in self.layers]

    async def aclose(self) -> None:
        for layer in self.layers:
            close = getattr(layer, "aclose", None)
            if close is not None:
                await close()


async def _no_embed(call: Call) -> Embeddings:
    raise TypeError("this pipeline's bottom has no embed(call)")


def _overrides(layer: Any, method: str) -> bool:
    mine = getattr(type(layer), method, None)
    return mine is not None and mine is not getattr(Layer, method)


def _bind_complete(layer: Any, nxt: CompleteNext) -> CompleteNext:
    fn = layer.complete
    return lambda call: fn(call, nxt)


def _bind_stream(layer: Any, nxt: StreamNext) -> StreamNext:
    fn = layer.stream
    return lambda call: fn(call, nxt)


def _bind_embed(layer: Any, nxt: EmbedNext) -> EmbedNext:
    fn = layer.embed
    return lambda call: fn(call, nxt)


def compose(layers: Sequence[Any], bottom: Any) -> Pipeline:
    """Stack ``layers`` (first = outermost) on ``bottom``, whose ``complete(call)``,
    ``stream(call)`` and (optional) ``embed(call)`` take no ``next``: it makes the plugin
    call. A layer without ``embed`` passes embeddings through."""
    for layer in layers:
        if not callable(getattr(layer, "complete", None)) or not callable(
                getattr(layer, "stream", None)):
            raise TypeError(f"{layer!r} is not a layer: it needs complete(call, next) "
                            "and stream(call, next) methods (subclass plugbay.pipeline.Layer)")
    complete: CompleteNext = bottom.complete
    stream: StreamNext = bottom.stream
    embed: EmbedNext | None = getattr(bottom, "embed", None)
    for layer in reversed(layers):
        if _overrides(layer, "complete"):
            complete = _bind_complete(layer, complete)
        if _overrides(layer, "stream"):
            stream = _bind_stream(layer, stream)
        if embed is not None and _overrides(layer, "embed"):
            embed = _bind_embed(layer, embed)
    return Pipeline([*layers, bottom], complete, stream, embed)
