"""Gemini Batch Mode as the optional batch hooks, with inline requests.

``POST /models/{model}:batchGenerateContent`` takes ``{"batch": {"displayName",
"inputConfig": {"requests": {"requests": [{"request", "metadata": {"key"}}]}}}}``
and answers an Operation named ``batches/{id}``; ``GET /batches/{id}`` is polled
(``metadata.state``, ``metadata.batchStats``) and, once ``done``, carries
``response.inlinedResponses.inlinedResponses`` in input order, each a
``response`` or an ``error``. One job runs one model (it is in the path).
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
from plugbay_gemini import codec
from plugbay_gemini.provider import headers, map_error, model_path, url

__all__ = ["batch_cancel", "batch_poll", "batch_results", "batch_submit", "job_from"]

# BATCH_STATE_* on the REST wire; the SDKs show JOB_STATE_* for the same states
_STATES = {"PENDING": "validating", "RUNNING": "in_progress", "SUCCEEDED": "completed",
           "FAILED": "failed", "CANCELLED": "cancelled", "EXPIRED": "expired"}


async def _call(ctx: ProviderContext, method: str, path: str, **kw: Any) -> HTTPResponse:
    response = await ctx.http.request(method, url(ctx, path), headers=headers(ctx), **kw)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, ctx)
    return response


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def job_from(op: dict[str, Any], ctx: ProviderContext) -> BatchJob:
    meta = op.get("metadata") or {}
    raw = str(meta.get("state") or "")
    state = _STATES.get(raw.removeprefix("BATCH_STATE_").removeprefix("JOB_STATE_"))
    if state is None:
        raise errors.malformed(f"unknown batch state {raw!r}", json.dumps(op)[:200],
                               provider=ctx.name)
    stats = meta.get("batchStats") or {}
    err = op.get("error") or {}
    return BatchJob(id=str(op.get("name") or meta.get("name")).removeprefix("batches/"),
                    provider=ctx.name, state=state,  # type: ignore[arg-type]
                    counts=BatchCounts(total=int(stats.get("requestCount") or 0),
                                       completed=int(stats.get("successfulRequestCount") or 0),
                                       failed=int(stats.get("failedRequestCount") or 0)),
                    created_at=_time(meta.get("createTime")),
                    error=str(err.get("message")) if err.get("message") else None)


@hookimpl
async def batch_submit(items: list[BatchItem], provider: ProviderContext) -> BatchJob:
    models = sorted({i.request.model for i in items})
    if len(models) != 1:
        raise errors.InvalidRequestError(
            f"a {provider.name} batch job runs one model; these items name "
            f"{', '.join(models)}: split the input by model", provider=provider.name)
    requests = [{"request": codec.build_body(i.request), "metadata": {"key": i.custom_id}}
                for i in items]
    body = {"batch": {"displayName": f"plugbay-{len(items)}",
                      "inputConfig": {"requests": {"requests": requests}}}}
    response = await _call(provider, "POST", model_path(models[0], "batchGenerateContent"),
                           json=body)
    return job_from(response.json_object(), provider)


@hookimpl
async def batch_poll(job_id: str, provider: ProviderContext) -> BatchJob:
    return job_from((await _call(provider, "GET", f"/batches/{job_id}")).json_object(),
                    provider)


@hookimpl
async def batch_cancel(job_id: str, provider: ProviderContext) -> BatchJob:
    await _call(provider, "POST", f"/batches/{job_id}:cancel")  # answers {}
    return await batch_poll(job_id, provider)


def _keys(op: dict[str, Any]) -> list[str | None]:
    """The custom_ids in input order, from the batch's own copy of its input."""
    meta = op.get("metadata") or {}
    reqs = (((meta.get("inputConfig") or {}).get("requests") or {}).get("requests")) or []
    return [(r.get("metadata") or {}).get("key") for r in reqs if isinstance(r, dict)]


@hookimpl
async def batch_results(job_id: str, provider: ProviderContext) -> AsyncIterator[BatchResult]:
    op = (await _call(provider, "GET", f"/batches/{job_id}")).json_object()
    model = str((op.get("metadata") or {}).get("model") or "").removeprefix("models/")
    out = ((op.get("response") or {}).get("inlinedResponses") or {}).get("inlinedResponses")
    keys = _keys(op)
    for n, item in enumerate(out or ()):
        # the key is echoed in the response's metadata, else found by input order
        key = (item.get("metadata") or {}).get("key") or (keys[n] if n < len(keys) else None)
        if key is None:
            raise errors.malformed(f"batch result {n} names no request key",
                                   json.dumps(item)[:200], provider=provider.name)
        if item.get("error"):
            err = item["error"]
            yield BatchResult(custom_id=str(key), status_code=int(err.get("code") or 500),
                              error=BatchItemError(code=str(err.get("status") or
                                                            err.get("code") or "error"),
                                                   message=str(err.get("message") or "")))
            continue
        data = item.get("response") or {}
        yield BatchResult(custom_id=str(key), request_id=data.get("responseId"),
                          completion=codec.to_completion(data, provider=provider.name,
                                                         model=model))
