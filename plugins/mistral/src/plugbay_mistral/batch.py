"""Mistral batch jobs (Files + ``/v1/batch/jobs``) on the shared OpenAI-style batch code.

What differs from OpenAI: input lines are ``{custom_id, body}`` (no method/url) and
the model is named once on the job, so one job serves one model; the job object
says ``status`` in capitals, ``output_file``/``error_file`` and flat request counts.
Output and error file lines have OpenAI's shape.
"""

from __future__ import annotations

import json
from typing import Any

from plugbay import errors
from plugbay.batch.models import BatchCounts, BatchItem, BatchJob
from plugbay.context import ProviderContext
from plugbay.openai_compat.batch import OpenAIBatchAPI

__all__ = ["MistralBatch"]

_STATES = {"QUEUED": "validating", "RUNNING": "in_progress", "SUCCESS": "completed",
           "FAILED": "failed", "TIMEOUT_EXCEEDED": "expired",
           "CANCELLATION_REQUESTED": "cancelling", "CANCELLED": "cancelled"}


class MistralBatch(OpenAIBatchAPI):
    jobs_path = "/batch/jobs"
    file_keys = ("output_file", "error_file")

    def batch_line(self, item: BatchItem, ctx: ProviderContext) -> dict[str, Any]:
        line = super().batch_line(item, ctx)
        body = line["body"]
        body.pop("model", None)  # named once, on the job
        return {"custom_id": line["custom_id"], "body": body}

    def create_body(self, file_id: str, model: str) -> dict[str, Any]:
        return {"input_files": [file_id], "model": model, "endpoint": self.batch_endpoint}

    def batch_job(self, data: dict[str, Any], ctx: ProviderContext) -> BatchJob:
        state = _STATES.get(str(data.get("status")))
        if state is None:
            raise errors.malformed(f"unknown batch job status {data.get('status')!r}",
                                   json.dumps(data)[:200], provider=ctx.name)
        return BatchJob(id=str(data["id"]), provider=ctx.name, state=state,  # type: ignore[arg-type]
                        counts=BatchCounts(total=int(data.get("total_requests") or 0),
                                           completed=int(data.get("succeeded_requests") or 0),
                                           failed=int(data.get("failed_requests") or 0)),
                        created_at=data.get("created_at"),
                        error="the batch job failed" if state == "failed" else None)
