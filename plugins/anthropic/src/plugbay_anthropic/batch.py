"""Anthropic Message Batches as the optional batch hooks.

``POST /v1/messages/batches`` takes ``{"requests": [{custom_id, params}]}`` where
``params`` is a Messages body; the batch is polled at ``/v1/messages/batches/{id}``
and its results are JSONL at its ``results_url``, one ``{custom_id, result}`` line
per request (``succeeded``, ``errored``, ``canceled`` or ``expired``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

from plugbay import errors
from plugbay.batch.models import BatchCounts, BatchItem, BatchItemError, BatchJob, BatchResult
from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.http.models import HTTPResponse
from plugbay_anthropic import codec
from plugbay_anthropic.provider import body, headers, map_error, url

__all__ = ["batch_cancel", "batch_poll", "batch_results", "batch_submit", "job_from"]

_PATH = "/v1/messages/batches"


async def _call(ctx: ProviderContext, method: str, target: str, **kw: Any) -> HTTPResponse:
    full = target if "://" in target else url(ctx, target)
    response = await ctx.http.request(method, full, headers=headers(ctx), **kw)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, ctx)
    return response


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def job_from(data: dict[str, Any], ctx: ProviderContext) -> BatchJob:
    """A ``message_batch`` object as a job; ``ended`` splits into completed, expired
    or cancelled by what the batch reports (Anthropic has one terminal status)."""
    status, c = data.get("processing_status"), data.get("request_counts") or {}
    n = {k: int(c.get(k) or 0) for k in ("processing", "succeeded", "errored", "canceled",
                                          "expired")}
    if status == "in_progress":
        state = "in_progress"
    elif status == "canceling":
        state = "cancelling"
    elif status == "ended":
        state = ("cancelled" if data.get("cancel_initiated_at")
                 else "expired" if n["expired"] else "completed")
    else:
        raise errors.malformed(f"unknown processing_status {status!r}", json.dumps(data)[:200],
                               provider=ctx.name)
    return BatchJob(id=str(data["id"]), provider=ctx.name, state=state,
                    counts=BatchCounts(total=sum(n.values()), completed=n["succeeded"],
                                       failed=n["errored"] + n["canceled"] + n["expired"]),
                    created_at=_time(data.get("created_at")))


def result_from(line: dict[str, Any], ctx: ProviderContext) -> BatchResult:
    """One results line, mapped back to its ``custom_id``."""
    custom_id, result = str(line.get("custom_id")), line.get("result") or {}
    kind = result.get("type")
    if kind == "succeeded":
        message = result.get("message") or {}
        return BatchResult(custom_id=custom_id, request_id=message.get("id"),
                           completion=codec.to_completion(
                               message, provider=ctx.name, model=str(message.get("model"))))
    if kind == "errored":
        message, etype = codec.error_info(result.get("error"))
        return BatchResult(custom_id=custom_id, status_code=400, error=BatchItemError(
            code=etype or "errored", message=message))
    return BatchResult(custom_id=custom_id, status_code=0, error=BatchItemError(
        code=str(kind or "unknown"), message=f"request {kind} before it ran"))


@hookimpl
async def batch_submit(items: list[BatchItem], provider: ProviderContext) -> BatchJob:
    requests = [{"custom_id": i.custom_id, "params": body(i.request, stream=False)}
                for i in items]
    for r in requests:
        r["params"].pop("stream", None)
    response = await _call(provider, "POST", _PATH, json={"requests": requests})
    return job_from(response.json_object(), provider)


@hookimpl
async def batch_poll(job_id: str, provider: ProviderContext) -> BatchJob:
    return job_from((await _call(provider, "GET", f"{_PATH}/{job_id}")).json_object(), provider)


@hookimpl
async def batch_cancel(job_id: str, provider: ProviderContext) -> BatchJob:
    response = await _call(provider, "POST", f"{_PATH}/{job_id}/cancel")
    return job_from(response.json_object(), provider)


@hookimpl
async def batch_results(job_id: str, provider: ProviderContext) -> AsyncIterator[BatchResult]:
    data = (await _call(provider, "GET", f"{_PATH}/{job_id}")).json_object()
    where = data.get("results_url") or f"{_PATH}/{job_id}/results"
    response = await _call(provider, "GET", where)
    for raw in response.text.splitlines():
        if raw.strip():
            yield result_from(json.loads(raw), provider)
