"""Provider batch jobs: submit, wait (poll, fetch, write), status and cancel.

The CLI (``plugbay batch --provider-batch``) calls these. A job id is
``provider:native_id``. Each fetched result becomes one line in the OpenAI batch
output shape plus a ``plugbay`` member, and one ledger row at the batch price;
``wait`` may be rerun on the same job: lines whose ``custom_id`` is in ``done_ids``
are not written again, and a result already in the ledger is not recorded again.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.batch.models import BatchItem, BatchJob, BatchResult
from plugbay.openai_compat.encode import chat_completion_json

if TYPE_CHECKING:
    from plugbay.client import Client
    from plugbay.cost.ledger import Ledger
    from plugbay.targets import Target
    from plugbay.types import Price

__all__ = ["JobStatus", "JobSummary", "batch_price", "cancel", "result_line", "status",
           "submit", "wait"]

JobStatus = BatchJob  # .state, .counts, str() is one line


class JobSummary:
    """What one ``wait`` did: the final job, lines written, lines skipped, total cost."""

    def __init__(self, job: BatchJob) -> None:
        self.job = job
        self.written = 0
        self.skipped = 0  # already in done_ids
        self.failed = 0  # per-item errors among the written lines
        self.cost: float | None = 0.0  # ``None`` once any written result's cost is unknown

    def __str__(self) -> str:
        cost = "unknown" if self.cost is None else f"${self.cost:.6f}"
        return (f"{self.job}; wrote {self.written} ({self.failed} failed), "
                f"skipped {self.skipped} already done; cost {cost} at the batch price")


def batch_price(price: Price | None) -> Price | None:
    """``price`` at the provider's batch rates; ``None`` when either is unknown."""
    if price is None or price.batch is None:
        return None
    f = price.batch
    scale = {k: (v * f if v is not None else None) for k, v in (
        ("input", price.input), ("output", price.output), ("cached_input", price.cached_input),
        ("cache_write", price.cache_write), ("reasoning", price.reasoning))}
    return price.model_copy(update={**scale, "source": price.batch_source or price.source})


def _target(client: Client, provider: str, hook: str) -> Target:
    target = client.targets.get(provider)
    if not target.plugin.has(hook):
        raise errors.BatchUnsupportedError(
            f"provider {provider!r} has no batch job API in plugbay (its plugin implements "
            f"no {hook!r} hook); run the batch locally instead (without --provider-batch)")
    return target


async def _call(target: Target, hook: str, **kw: Any) -> Any:
    result = target.plugin.hooks[hook](provider=target.ctx, **kw)
    return await result if inspect.isawaitable(result) else result


def _split_job(job_id: str) -> tuple[str, str]:
    provider, sep, native = job_id.partition(":")
    if not sep or not provider or not native:
        raise errors.PluginError(
            f"batch job id {job_id!r} must be written as 'provider:id', e.g. 'openai:batch_abc'")
    return provider, native


def _items(client: Client, items: Iterable[dict[str, Any]], model: str | None,
           ) -> tuple[str, list[BatchItem]]:
    from plugbay.call import build_request

    provider: str | None = None
    out: list[BatchItem] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        custom_id, body = item.get("custom_id"), dict(item.get("body") or {})
        if not isinstance(custom_id, str) or not custom_id:
            raise errors.PluginError(f"batch item {n} has no custom_id string")
        if custom_id in seen:
            raise errors.PluginError(f"batch item {n}: custom_id {custom_id!r} is repeated")
        seen.add(custom_id)
        full = model or body.pop("model", None)
        body.pop("model", None)
        if not isinstance(full, str):
            raise errors.PluginError(f"batch item {custom_id!r} names no model "
                                     "(give body.model as 'provider/model', or --model)")
        target, model_id = client.targets.split(full)
        if provider is None:
            provider = target.name
        elif target.name != provider:
            raise errors.PluginError(
                f"batch item {custom_id!r} goes to {target.name!r} but the job goes to "
                f"{provider!r}: one provider batch job serves one provider; split the input")
        messages = body.pop("messages", None)
        out.append(BatchItem(custom_id=custom_id,
                             request=build_request(model_id, messages, body)))
    if provider is None:
        raise errors.PluginError("the batch has no items")
    return provider, out


async def submit(client: Client, items: Iterable[dict[str, Any]], *,
                 model: str | None = None) -> str:
    """Submit ``items`` (all to one provider) as one provider batch job; its job id."""
    provider, batch = _items(client, items, model)
    target = _target(client, provider, "batch_submit")
    job: BatchJob = await _call(target, "batch_submit", items=batch)
    return f"{provider}:{job.id}"


async def status(client: Client, job_id: str) -> JobStatus:
    provider, native = _split_job(job_id)
    job: BatchJob = await _call(_target(client, provider, "batch_poll"), "batch_poll",
                                job_id=native)
    return job


async def cancel(client: Client, job_id: str) -> JobStatus:
    provider, native = _split_job(job_id)
    job: BatchJob = await _call(_target(client, provider, "batch_cancel"), "batch_cancel",
                                job_id=native)
    return job


def result_line(result: BatchResult, provider: str, model: str | None,
                cost: float | None) -> dict[str, Any]:
    """One line in the OpenAI batch output shape, plus the ``plugbay`` member."""
    done = result.completion
    response = None if done is None else {
        "status_code": result.status_code, "request_id": result.request_id,
        "body": chat_completion_json(done)}
    error = None if result.error is None else {"code": result.error.code,
                                               "message": result.error.message}
    return {"id": f"batch_req_{result.request_id or result.custom_id}",
            "custom_id": result.custom_id, "response": response, "error": error,
            "plugbay": {"provider": provider, "model": model, "cost": cost, "batch": True}}


def _recorded(ledger: Ledger, job_id: str, since: float | None) -> set[str]:
    """custom_ids of this job already in the ledger (a rerun records none twice)."""
    return {(r.tags or {}).get("custom_id", "") for r in ledger.fetch(since=since)
            if (r.tags or {}).get("batch_job") == job_id}


def _record(ledger: Ledger, job_id: str, provider: str, result: BatchResult,
            cost: float | None) -> None:
    from plugbay.cost.ledger import UsageRecord

    done = result.completion
    usage = done.usage if done is not None else None
    ledger.record(UsageRecord(
        ts=time.time(), provider=provider, model=done.model if done else "",
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cached_tokens=usage.cached_input_tokens if usage else 0,
        cache_write_tokens=usage.cache_write_tokens if usage else 0,
        reasoning_tokens=usage.reasoning_tokens if usage else 0,
        cost=cost if done is not None else 0.0,  # a failed item is not billed
        status="ok" if result.error is None else "error",
        error=result.error.code if result.error is not None else None,
        request_id=result.request_id,
        tags={"batch": "true", "batch_job": job_id, "custom_id": result.custom_id}))


async def _poll(client: Client, job_id: str, interval: float, max_interval: float) -> BatchJob:
    """Poll until the job is terminal; the delay doubles up to ``max_interval``, jittered."""
    delay = interval
    while True:
        job = await status(client, job_id)
        if job.done:
            return job
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, max_interval)


async def wait(client: Client, job_id: str, write: Callable[[dict[str, Any]], None], *,
               done_ids: set[str], interval: float = 5.0,
               max_interval: float = 60.0) -> JobSummary:
    """Wait for the job, then ``write`` each result not in ``done_ids``; record each once."""
    provider, native = _split_job(job_id)
    job = await _poll(client, job_id, interval, max_interval)
    target = _target(client, provider, "batch_results")
    summary = JobSummary(job)
    ledger = client.ledger
    recorded = _recorded(ledger, job_id, job.created_at) if ledger is not None else set()
    results = target.plugin.hooks["batch_results"](job_id=native, provider=target.ctx)
    async for result in results:
        done = result.completion
        model = done.model if done is not None else None
        cost: float | None = 0.0
        if done is not None:
            price = batch_price(target.price(done.model))
            cost = None if price is None or done.usage is None else _cost(done, price)
        if ledger is not None and result.custom_id not in recorded:
            _record(ledger, job_id, provider, result, cost)  # before the line: never lost
            recorded.add(result.custom_id)
        if result.custom_id in done_ids:
            summary.skipped += 1
            continue
        write(result_line(result, provider, model, cost))
        summary.written += 1
        summary.failed += result.error is not None
        summary.cost = None if cost is None or summary.cost is None else summary.cost + cost
    if ledger is not None:
        ledger.flush()
    return summary


def _cost(completion: Any, price: Price) -> float | None:
    from plugbay.cost.ledger.records import cost_total

    return cost_total(completion.usage, price)
