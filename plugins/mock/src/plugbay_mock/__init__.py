"""A mock provider for plugbay: answers in process, with no network and no key.

Deterministic and configurable, for first runs and for tests (as LiteLLM users use
``mock_response``)::

    client.complete("mock/echo", "hi")                          # answers "hi"
    client.complete("mock/any", "hi", mock_response="fixed")    # answers "fixed"
    client.complete("mock/error-429", "hi")                     # raises RateLimitError

Options (``reply``, ``latency``, ``error``, ``chunks``, ``tool_call``, ``usage``, ...) are
set per instance, per model or per call: see ``options.py`` and ``docs/providers/mock.md``.
Prices come from the mock's own fictional table, so cost and the ledger show numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.pricing import PriceTable, configured_price
from plugbay.types import (
    Completion,
    FinishEvent,
    Health,
    ModelInfo,
    Price,
    Request,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from plugbay_mock import options as opts
from plugbay_mock.answer import answer, chunks, scripted_error

__all__ = ["complete", "health", "list_models", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)


def _instance(ctx: ProviderContext) -> opts.Instance:
    """The instance's checked options, once per instance (the config is a snapshot)."""
    found: opts.Instance | None = ctx.state.get("mock")
    if found is None:
        found = ctx.state["mock"] = opts.instance(ctx.name, ctx.options)
    return found


async def _prepare(request: Request, ctx: ProviderContext) -> opts.Options:
    """The call's options, after its latency; raises the scripted error, if any."""
    options = opts.resolve(_instance(ctx), request.model, request.extra, ctx.name)
    if options.latency:
        await asyncio.sleep(options.latency)
    if options.error is not None:
        raise scripted_error(options, ctx.name, f"model {request.model!r}")
    return options


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    options = await _prepare(request, provider)
    done = answer(request, options, provider.name)
    return Completion(text=done.text, tool_calls=done.tool_calls,
                      finish_reason=done.finish_reason, raw_finish_reason=done.finish_reason,
                      usage=done.usage, model=request.model, provider=provider.name,
                      id=done.id)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    options = await _prepare(request, provider)
    done = answer(request, options, provider.name)
    sent: list[str] = []
    for call in done.tool_calls:  # the name first, then the arguments in two fragments
        half = len(call.arguments) // 2
        yield ToolCallDelta(index=0, id=call.id, name=call.name)
        yield ToolCallDelta(index=0, arguments=call.arguments[:half])
        yield ToolCallDelta(index=0, arguments=call.arguments[half:])
    for i, piece in enumerate(chunks(done.text, options.chunks)):
        if options.cut_after is not None and i >= options.cut_after:
            break
        if i and options.chunk_latency:
            await asyncio.sleep(options.chunk_latency)
        sent.append(piece)
        yield TextDelta(text=piece)
    if options.cut_after is not None:
        raise errors.StreamError(
            f"scripted stream cut from the mock after {len(sent)} chunk(s) (cut_after)",
            provider=provider.name, partial="".join(sent), code="stream_error")
    yield UsageEvent(usage=done.usage)
    yield FinishEvent(reason=done.finish_reason, raw_reason=done.finish_reason)


def _table() -> PriceTable:
    return PriceTable.for_package(__name__)


@hookimpl
def list_models(provider: ProviderContext) -> list[ModelInfo]:
    table = _table()
    listed = table.model_infos(provider.name)
    known = {m.id for m in listed}
    listed += [table.info(m, provider.name) for m in _instance(provider).models
               if m not in known]
    return listed


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    return configured_price(provider.options, model, provider=provider.name) or \
        _table().price(model)


@hookimpl
def health(provider: ProviderContext) -> Health:
    """Always up, unless the instance scripts an error for every call."""
    try:
        options = opts.resolve(_instance(provider), "", {}, provider.name)
    except errors.PlugbayError as exc:
        return Health(provider=provider.name, status="down", detail=str(exc))
    if options.error is not None:
        failure = scripted_error(options, provider.name, "instance option 'error'")
        busy = isinstance(failure, (errors.RateLimitError, errors.OverloadedError))
        return Health(provider=provider.name, status="degraded" if busy else "down",
                      latency=0.0, detail=str(failure))
    return Health(provider=provider.name, status="ok", latency=0.0,
                  detail="in process: no network, no key")
