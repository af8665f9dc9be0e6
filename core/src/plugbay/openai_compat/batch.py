"""The OpenAI Batch API (Files + ``/v1/batches``) as the optional batch hooks.

Submit: the items become a JSONL file of ``{custom_id, method, url, body}`` lines
uploaded with ``purpose=batch``, then ``POST /batches`` names it. Results: the
output file (answers) and the error file (per-item failures) are downloaded and
each line is mapped back to its ``custom_id``. Mix into an ``OpenAICompatible``
provider whose server speaks this API and assign ``batch_hookimpls()`` in the plugin.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import plugbay.openai_compat.codec as codec
from plugbay import errors
from plugbay.batch.models import BatchCounts, BatchItem, BatchItemError, BatchJob, BatchResult
from plugbay.hookspecs import hookimpl
from plugbay.types import Completion

if TYPE_CHECKING:
    from plugbay.context import ProviderContext
    from plugbay.http.models import HTTPResponse

__all__ = ["OpenAIBatchAPI", "multipart", "parse_chat_completion"]

_STATES = {"validating", "in_progress", "finalizing", "completed", "failed", "expired",
           "cancelling", "cancelled"}


def multipart(fields: dict[str, str], filename: str, data: bytes,
              ) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with text ``fields`` and one ``file``; and its type."""
    boundary = f"plugbay-{secrets.token_hex(12)}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: application/jsonl\r\n\r\n'.encode()
                 + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def parse_chat_completion(data: dict[str, Any], provider: str, model: str,
                          parse_usage: Callable[[dict[str, Any]], Any] | None = None,
                          ) -> Completion:
    """A ``chat.completion`` JSON object (a batch output body) as a ``Completion``."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict):
        raise errors.malformed("batch result body has no choices", json.dumps(data)[:200],
                               provider=provider)
    text, reasoning, calls = codec.parse_message(choice.get("message") or {})
    raw = choice.get("finish_reason")
    usage = parse_usage(data) if parse_usage else codec.parse_usage(data.get("usage"))
    return Completion(text=text, reasoning=reasoning, tool_calls=calls,
                      finish_reason=codec.finish_reason(raw, has_calls=bool(calls)),
                      raw_finish_reason=raw, usage=usage, model=data.get("model") or model,
                      provider=provider, id=data.get("id"))


class OpenAIBatchAPI:
    """Mixin for an ``OpenAICompatible`` provider (uses its ``url``/``headers``/``body``)."""

    batch_endpoint = "/v1/chat/completions"
    completion_window = "24h"
    jobs_path = "/batches"  # under the base URL; Mistral: /batch/jobs
    file_keys = ("output_file_id", "error_file_id")
    single_model = True  # OpenAI and Mistral run one model per batch job
    url: Callable[..., str]
    headers: Callable[..., dict[str, str]]
    body: Callable[..., dict[str, Any]]
    map_error: Callable[..., errors.APIError]
    parse_usage: Callable[[dict[str, Any]], Any]

    def batch_url(self, ctx: ProviderContext, path: str) -> str:
        """Where a Files/Batches ``path`` lives (Azure adds its prefix and api-version)."""
        return self.url(ctx, path)

    async def batch_prepare(self, ctx: ProviderContext) -> None:
        """Run before each batch request (Azure refreshes its Entra token here)."""

    async def _batch_call(self, ctx: ProviderContext, method: str, path: str,
                          **kw: Any) -> HTTPResponse:
        await self.batch_prepare(ctx)
        headers = {**self.headers(ctx), **kw.pop("headers", {})}
        response = await ctx.http.request(method, self.batch_url(ctx, path), headers=headers,
                                          **kw)
        if response.status >= 400:
            raise self.map_error(response.status, response.headers, response.content, ctx)
        return response

    def batch_job(self, data: dict[str, Any], ctx: ProviderContext) -> BatchJob:
        state = data.get("status")
        if state not in _STATES:
            raise errors.malformed(f"unknown batch status {state!r}", json.dumps(data)[:200],
                                   provider=ctx.name)
        counts = data.get("request_counts") or {}
        errs = (data.get("errors") or {}).get("data") or []
        reason = "; ".join(str(e.get("message")) for e in errs if isinstance(e, dict)) or None
        return BatchJob(id=str(data["id"]), provider=ctx.name, state=state,
                        counts=BatchCounts(total=int(counts.get("total") or 0),
                                           completed=int(counts.get("completed") or 0),
                                           failed=int(counts.get("failed") or 0)),
                        created_at=data.get("created_at"), error=reason)

    def batch_line(self, item: BatchItem, ctx: ProviderContext) -> dict[str, Any]:
        body = self.body(item.request, ctx, stream=False)
        body.pop("stream", None)
        body.pop("stream_options", None)
        return {"custom_id": item.custom_id, "method": "POST", "url": self.batch_endpoint,
                "body": body}

    @hookimpl
    async def batch_submit(self, items: list[BatchItem], provider: ProviderContext) -> BatchJob:
        model = self.batch_model(items, provider)  # checked before anything is uploaded
        jsonl = "".join(json.dumps(self.batch_line(i, provider)) + "\n" for i in items)
        content, ctype = multipart({"purpose": "batch"}, "batch.jsonl", jsonl.encode())
        upload = await self._batch_call(provider, "POST", "/files", content=content,
                                        headers={"Content-Type": ctype})
        file_id = upload.json_object().get("id")
        created = await self._batch_call(provider, "POST", self.jobs_path,
                                         json=self.create_body(str(file_id), model))
        return self.batch_job(created.json_object(), provider)

    def batch_model(self, items: list[BatchItem], ctx: ProviderContext) -> str:
        """The one model of the job (one clear line when the items name several)."""
        models = sorted({i.request.model for i in items})
        if self.single_model and len(models) != 1:
            raise errors.InvalidRequestError(
                f"a {ctx.name} batch job runs one model; these items name "
                f"{', '.join(models)}: split the input by model", provider=ctx.name)
        return models[0]

    def create_body(self, file_id: str, model: str) -> dict[str, Any]:
        """The body that creates the job from the uploaded file."""
        return {"input_file_id": file_id, "endpoint": self.batch_endpoint,
                "completion_window": self.completion_window}

    @hookimpl
    async def batch_poll(self, job_id: str, provider: ProviderContext) -> BatchJob:
        response = await self._batch_call(provider, "GET", f"{self.jobs_path}/{job_id}")
        return self.batch_job(response.json_object(), provider)

    @hookimpl
    async def batch_cancel(self, job_id: str, provider: ProviderContext) -> BatchJob:
        response = await self._batch_call(provider, "POST", f"{self.jobs_path}/{job_id}/cancel")
        return self.batch_job(response.json_object(), provider)

    @hookimpl
    async def batch_results(self, job_id: str, provider: ProviderContext,
                            ) -> AsyncIterator[BatchResult]:
        data = (await self._batch_call(provider, "GET", f"{self.jobs_path}/{job_id}")).json_object()
        for key in self.file_keys:
            if not data.get(key):
                continue
            file = await self._batch_call(provider, "GET", f"/files/{data[key]}/content")
            for raw in file.text.splitlines():
                if raw.strip():
                    yield self.batch_result(json.loads(raw), provider)

    def batch_result(self, line: dict[str, Any], ctx: ProviderContext) -> BatchResult:
        """One output- or error-file line as a result tied to its ``custom_id``."""
        response = line.get("response") or {}
        status = int(response.get("status_code") or 0)
        body = response.get("body") or {}
        err = line.get("error")
        if not err and status and status >= 400:
            err = body.get("error") if isinstance(body.get("error"), dict) else {
                "code": str(status), "message": json.dumps(body)[:500]}
        result = BatchResult(custom_id=str(line.get("custom_id")), status_code=status or 500,
                             request_id=response.get("request_id") or line.get("id"))
        if err:
            result.error = BatchItemError(
                code=str(err.get("code") or err.get("type") or status or "error"),
                message=str(err.get("message") or ""))
        else:
            result.completion = parse_chat_completion(
                body, ctx.name, str(body.get("model") or ""), self.parse_usage)
        return result

    def batch_hookimpls(self) -> tuple[Callable[..., Any], ...]:
        """The four bound batch hooks, to assign at module level in the plugin."""
        return (self.batch_submit, self.batch_poll, self.batch_results, self.batch_cancel)
