"""``client.embed``: split a list of inputs into the provider's batches, send them through
the pipeline with bounded concurrency, and join the answers in input order.

Each batch is one ``Call`` down the same pipeline as a completion (``Layer.embed``):
cached, routed and retried, admitted against budgets and rate limits, metered as one
ledger row. One list is embedded by one model, because vectors of two models do not
share a space: on a route, the first batch picks the target (with the route's failover)
and the other batches go to that target (with its retries).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.call import Call
from plugbay.embeddings import (
    CHARS_PER_TOKEN_GENEROUS,
    ENCODINGS,
    Embeddings,
    EmbedLimits,
    EmbedRequest,
    embed_limits_of,
    estimate_input_tokens,
)

if TYPE_CHECKING:
    from plugbay.stack import Stack
    from plugbay.targets import Target
    from plugbay.types import Cost

__all__ = ["DEFAULT_CONCURRENCY", "embed", "limits_for", "split"]

DEFAULT_CONCURRENCY = 4  # batches in flight for one list
_perf = time.perf_counter


def limits_for(target: Target, model_id: str) -> EmbedLimits:
    """The limits of ``model_id`` on ``target``: the plugin's declaration, with the batch
    size the instance's ``embed_batch`` option sets (a self-hosted server's own limit)."""
    limits = embed_limits_of(target.plugin.obj).for_model(model_id)
    own = target.ctx.option("embed_batch")
    if own is None:
        return limits
    if not isinstance(own, int) or isinstance(own, bool) or own < 1:
        raise errors.ConfigError(f"embed_batch must be a positive integer, not {own!r}",
                                 key=f"providers.{target.name}.embed_batch")
    return EmbedLimits(own, max_input_tokens=limits.max_input_tokens,
                       batch_tokens=limits.batch_tokens)


def split(inputs: Sequence[str], limits: EmbedLimits) -> list[tuple[int, int]]:
    """``(start, end)`` slices of at most ``limits.batch`` inputs and (by estimate) at
    most ``limits.batch_tokens`` tokens, in order."""
    out: list[tuple[int, int]] = []
    start, tokens, cap, most = 0, 0, limits.batch_tokens, limits.batch
    for i, text in enumerate(inputs):
        need = estimate_input_tokens(text) if cap is not None else 0
        if i > start and (i - start >= most or (cap is not None and tokens + need > cap)):
            out.append((start, i))
            start, tokens = i, 0
        tokens += need
    if start < len(inputs):
        out.append((start, len(inputs)))
    return out


def _check_inputs(inputs: Any, encoding: str, dimensions: int | None) -> list[str]:
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)):
        raise errors.InvalidRequestError(
            f"inputs must be a list of strings, not {type(inputs).__name__}")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise errors.InvalidRequestError(
                f"inputs[{i}] is a {type(text).__name__}; every input must be a string")
    if encoding not in ENCODINGS:
        raise errors.InvalidRequestError(
            f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
        raise errors.InvalidRequestError(
            f"dimensions must be a positive integer, not {dimensions!r}")
    return list(inputs)


def _supported(stack: Stack, target: Target) -> None:
    """Raise ``EmbeddingUnsupportedError`` naming the providers that have ``embed``."""
    if target.plugin.has("embed"):
        return
    host = stack.targets.host
    have = sorted(name for name, plugin in host.load_all().items() if plugin.has("embed"))
    raise errors.EmbeddingUnsupportedError(
        f"provider {target.name!r} has no embeddings in plugbay (its plugin implements no "
        f"'embed' hook); providers with embeddings: {', '.join(have) or 'none installed'}")


def _too_long(inputs: Sequence[str], limits: EmbedLimits, where: str) -> None:
    most = limits.max_input_tokens
    if most is None:
        return
    for i, text in enumerate(inputs):
        if len(text) > most * CHARS_PER_TOKEN_GENEROUS:
            raise errors.InputTooLongError(
                f"input {i} is about {estimate_input_tokens(text)} tokens ({len(text)} "
                f"characters); {where} takes at most {most} tokens an input: shorten or "
                "split it", index=i, provider=where.partition("/")[0])


async def _bounded(jobs: list[Callable[[], Awaitable[Embeddings]]], limit: int,
                   ) -> list[Embeddings]:
    """Run ``jobs`` at most ``limit`` at a time; results in job order. The first error
    cancels the rest and is raised."""
    results: list[Any] = [None] * len(jobs)
    next_job = iter(range(len(jobs)))

    async def worker() -> None:
        for i in next_job:  # shared iterator: each job is taken once
            results[i] = await jobs[i]()

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(jobs)))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def embed(stack: Stack, model: str, inputs: Any, *, dimensions: int | None = None,
                input_type: str | None = None, encoding: str = "float",
                timeout: float | None = None, tags: dict[str, str] | None = None,
                cache: str | None = None, ttl: float | None = None,
                concurrency: int = DEFAULT_CONCURRENCY,
                extra: dict[str, Any] | None = None) -> Embeddings:
    """Embed ``inputs`` with ``model`` (``provider/model``, a route or ``agent:<name>``)."""
    texts = _check_inputs(inputs, encoding, dimensions)
    started = _perf()
    route_name: str | None = None
    if "/" in model:
        target, model_id = stack.targets.split(model)
        firsts = [(target, model_id)]
    else:
        route = stack.router.resolve(model)
        if route is None:
            raise stack.router.unknown(model)
        route_name, model_id = route.name, route.targets[0].model_id
        firsts = [(stack.targets.get(t.provider), t.model_id) for t in route.targets]
        target = firsts[0][0]
    for t, _mid in firsts:
        _supported(stack, t)
    every = [limits_for(t, mid) for t, mid in firsts]
    for (t, mid), limits in zip(firsts, every, strict=True):
        _too_long(texts, limits, f"{t.name}/{mid}")
    batch = min(limits.batch for limits in every)
    caps = [limits.batch_tokens for limits in every if limits.batch_tokens is not None]
    slices = split(texts, EmbedLimits(batch, batch_tokens=min(caps) if caps else None))
    if not slices:
        return Embeddings(vectors=[], model=model_id, provider=target.name,
                          encoding=encoding, extra={"batches": 0})  # type: ignore[arg-type]
    pipe = stack.pipeline
    options: dict[str, Any] = {"dimensions": dimensions, "input_type": input_type,
                               "encoding": encoding, "extra": extra or {}}

    def one(start: int, end: int, to: Target | None, mid: str) -> Callable[[], Awaitable[Any]]:
        async def run() -> Embeddings:
            request = EmbedRequest(model=mid, inputs=texts[start:end], **options)
            call = Call(model, request, target=to, timeout=timeout, tags=tags,  # type: ignore[arg-type]
                        route=route_name, cache=cache, ttl=ttl)
            try:
                return await pipe.embed(call)
            except errors.ContextLengthError as exc:
                raise _which(exc, texts, start, end) from exc
        return run

    parts: list[Embeddings] = []
    rest = slices
    if route_name is not None:  # the first batch picks the route's target for the rest
        first = await one(*slices[0], None, model_id)()
        parts.append(first)
        rest = slices[1:]
        target, model_id = _winner(stack, first, target, model_id)
    if len(rest) == 1:  # one request: no tasks to make (most calls)
        parts.append(await one(*rest[0], target, model_id)())
    elif rest:
        parts += await _bounded([one(s, e, target, model_id) for s, e in rest],
                                max(1, concurrency))
    if len(parts) == 1:
        only = parts[0]
        only.extra["batches"] = 1
        return only
    return join(parts, _perf() - started)


def _winner(stack: Stack, first: Embeddings, target: Target, model_id: str,
            ) -> tuple[Target, str]:
    """The target (and model id) that answered a routed first batch."""
    trace = first.trace
    for attempt in reversed(getattr(trace, "attempts", None) or []):
        if attempt.outcome == "ok":
            provider, _, mid = attempt.target.partition("/")
            return stack.targets.get(provider), mid
    return target, model_id


def _which(exc: errors.ContextLengthError, texts: list[str], start: int, end: int,
           ) -> errors.InputTooLongError:
    """The provider's context error for a batch, naming the longest input in it."""
    if isinstance(exc, errors.InputTooLongError):
        return exc
    i = max(range(start, end), key=lambda k: len(texts[k]))
    note = "" if end - start == 1 else f" (the longest of its batch of {end - start})"
    return errors.InputTooLongError(
        f"input {i}{note} is too long for the model: {exc.message}", index=i,
        provider=exc.provider, status=exc.status, request_id=exc.request_id, body=exc.body,
        code=exc.code)


def join(parts: list[Embeddings], latency: float) -> Embeddings:
    """The batches' answers as one, vectors in order, usage and cost summed."""
    from plugbay.types import Usage

    head = parts[0]
    vectors: list[Any] = []
    for part in parts:
        vectors += part.vectors
    usage = None
    counts = [p.usage.input_tokens for p in parts if p.usage is not None]
    if len(counts) == len(parts):
        usage = Usage(input_tokens=sum(counts), output_tokens=0)
    same = all(p.price == head.price for p in parts)
    out = Embeddings.model_construct(
        vectors=vectors, model=head.model, provider=head.provider, usage=usage,
        dimensions=head.dimensions, encoding=head.encoding, latency=latency,
        price=head.price if same else None,
        extra={**head.extra, "batches": len(parts)}, trace=head.trace)
    if not same:
        out.set_cost(_summed([p.cost for p in parts]))
    return out


def _summed(costs: list[Cost | None]) -> Cost | None:
    if any(c is None for c in costs) or not costs:
        return None
    from plugbay.types import Cost

    keys = ("input", "cached_input", "cache_write", "output", "reasoning", "total")
    return Cost(**{k: sum(getattr(c, k) for c in costs) for k in keys},
                currency=costs[0].currency)  # type: ignore[union-attr]
