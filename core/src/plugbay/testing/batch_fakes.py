"""Fake provider batch APIs for the batch conformance tests.

A ``BatchScenario`` says how a job goes: how many polls it stays in progress, its
final state, which ``custom_id`` s fail and whether the job expires with some items
unrun. A ``BatchFake`` installs the provider's real routes and formats on a
``FakeServer`` and plays the scenario, answering each item with a text derived
from its ``custom_id`` so a test can check the mapping back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from plugbay.testing.recorded import RecordedRequest
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

__all__ = ["AnthropicBatchFake", "BatchFake", "BatchScenario", "GeminiBatchFake",
           "MistralBatchFake", "OpenAIBatchFake", "answer_for"]

USAGE = {"input": 20, "output": 10}


def answer_for(custom_id: str) -> str:
    """The text the fake answers item ``custom_id`` with."""
    return f"answer to {custom_id}"


@dataclass
class BatchScenario:
    polls: int = 1  # polls answered in_progress before the final state
    final: str = "completed"  # completed | expired | failed | cancelled
    fail: set[str] = field(default_factory=set)  # custom_ids answered with an error
    unrun: set[str] = field(default_factory=set)  # never run (expired/cancelled jobs)


class BatchFake:
    """Base: the items the fake received, keyed by ``custom_id`` (with their bodies)."""

    def __init__(self, scenario: BatchScenario | None = None) -> None:
        self.scenario = scenario or BatchScenario()
        self.items: dict[str, dict[str, Any]] = {}
        self.submits = 0
        self.polls = 0
        self.cancelled = False
        self.job_model: str | None = None
        self.inputs: list[dict[str, Any]] = []

    def install(self, server: FakeServer) -> None:
        raise NotImplementedError

    def state(self) -> str:
        if self.cancelled:
            return "cancelled"
        return "in_progress" if self.polls <= self.scenario.polls else self.scenario.final

    def outcome(self, custom_id: str) -> str:
        """``ok``, ``error`` or ``unrun`` for one item at the end of the job."""
        if custom_id in self.scenario.unrun:
            return "unrun"
        return "error" if custom_id in self.scenario.fail else "ok"


def _multipart_file(req: RecordedRequest) -> tuple[dict[str, str], bytes]:
    ctype = req.headers.get("content-type", "")
    boundary = ctype.split("boundary=", 1)[1].encode()
    fields: dict[str, str] = {}
    data = b""
    for part in req.body.split(b"--" + boundary)[1:-1]:
        head, _, body = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if name is None:
            continue
        if b"filename=" in head:
            data = body
        else:
            fields[name.group(1).decode()] = body.decode()
    return fields, data


class OpenAIBatchFake(BatchFake):
    """OpenAI's Files + Batches API: ``/files``, ``/batches``, ``/files/{id}/content``."""

    batch_id = "batch_fake1"
    jobs_path = "/batches"
    endpoint = "/v1/chat/completions"  # Azure: /chat/completions
    answer_model: str | None = None  # the model answers name (default: the line's model)

    def install(self, server: FakeServer, prefix: str = "/v1") -> None:
        jobs = f"{prefix}{self.jobs_path}"
        server.add("POST", f"{prefix}/files", self._upload)
        server.add("POST", jobs, self._create)
        server.add("GET", f"{jobs}/{self.batch_id}", self._retrieve)
        server.add("POST", f"{jobs}/{self.batch_id}/cancel", self._cancel)
        server.add("GET", f"{prefix}/files/file-out/content", lambda r: Reply.text(
            self._file("ok"), "application/jsonl"))
        server.add("GET", f"{prefix}/files/file-err/content", lambda r: Reply.text(
            self._file("error"), "application/jsonl"))

    def _upload(self, req: RecordedRequest) -> Reply:
        fields, data = _multipart_file(req)
        if fields.get("purpose") != "batch":
            return Reply.json({"error": {"message": "purpose must be batch"}}, status=400)
        for line in data.decode().splitlines():
            item = json.loads(line)
            if not self.line_ok(item):
                return Reply.json({"error": {"message": f"bad line {line}"}}, status=400)
            self.items[item["custom_id"]] = item["body"]
        return Reply.json({"id": "file-in", "object": "file", "purpose": "batch",
                           "bytes": len(data), "filename": "batch.jsonl"})

    def line_ok(self, item: dict[str, Any]) -> bool:
        return (item.get("method") == "POST" and item.get("url") == self.endpoint
                and "stream" not in item["body"] and bool(item["body"].get("model")))

    def create_ok(self, body: dict[str, Any]) -> bool:
        return (body.get("input_file_id") == "file-in" and body.get("completion_window") == "24h"
                and body.get("endpoint") == self.endpoint)

    def _create(self, req: RecordedRequest) -> Reply:
        body = req.json()
        self.job_model = body.get("model")
        if not self.create_ok(body):
            return Reply.json({"error": {"message": "bad batch request"}}, status=400)
        self.submits += 1
        return Reply.json(self._batch("validating"))

    def _retrieve(self, req: RecordedRequest) -> Reply:
        self.polls += 1
        return Reply.json(self._batch(self.state()))

    def _cancel(self, req: RecordedRequest) -> Reply:
        self.cancelled = True
        return Reply.json(self._batch("cancelling"))

    def _batch(self, state: str) -> dict[str, Any]:
        done = state in ("completed", "expired", "cancelled")
        ids = list(self.items)
        ok = [i for i in ids if self.outcome(i) == "ok"] if done else []
        bad = [i for i in ids if self.outcome(i) != "ok"] if done else []
        errors = ({"object": "list", "data": [{"code": "invalid", "message": "bad input file",
                                                "line": 1, "param": None}]}
                  if state == "failed" else None)
        return {"id": self.batch_id, "object": "batch", "endpoint": "/v1/chat/completions",
                "errors": errors, "input_file_id": "file-in", "completion_window": "24h",
                "status": state, "output_file_id": "file-out" if ok else None,
                "error_file_id": "file-err" if bad else None, "created_at": 1700000000,
                "request_counts": {"total": len(ids), "completed": len(ok),
                                   "failed": len(bad)}}

    def _file(self, which: str) -> str:
        lines = []
        for n, (cid, body) in enumerate(self.items.items()):
            kind = self.outcome(cid)
            if (kind == "ok") != (which == "ok"):
                continue
            line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": cid}
            if kind == "ok":
                line["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1700000000,
                    "model": self.answer_model or body.get("model") or self.job_model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": answer_for(cid)}}],
                    "usage": {"prompt_tokens": USAGE["input"],
                              "completion_tokens": USAGE["output"],
                              "total_tokens": USAGE["input"] + USAGE["output"]}}}
                line["error"] = None
            elif kind == "error":
                line["response"] = {"status_code": 400, "request_id": f"req_{n}", "body": {
                    "error": {"message": f"bad request {cid}", "type": "invalid_request_error",
                              "code": "invalid_value", "param": None}}}
                line["error"] = None
            else:
                line["response"] = None
                line["error"] = {"code": "batch_expired",
                                 "message": "This request could not be executed before the "
                                            "completion window expired."}
            lines.append(json.dumps(line))
        return "".join(f"{x}\n" for x in lines)


class MistralBatchFake(OpenAIBatchFake):
    """Mistral: ``/v1/batch/jobs``, ``{custom_id, body}`` lines, the model on the job."""

    batch_id = "b6c2a1f0-mistral-fake"
    jobs_path = "/batch/jobs"
    _STATUS: ClassVar[dict[str, str]] = {
        "validating": "QUEUED", "in_progress": "RUNNING", "completed": "SUCCESS",
        "failed": "FAILED", "expired": "TIMEOUT_EXCEEDED",
        "cancelling": "CANCELLATION_REQUESTED", "cancelled": "CANCELLED"}

    def line_ok(self, item: dict[str, Any]) -> bool:
        return set(item) == {"custom_id", "body"} and "model" not in item["body"]

    def create_ok(self, body: dict[str, Any]) -> bool:
        return (body.get("input_files") == ["file-in"] and bool(body.get("model"))
                and body.get("endpoint") == "/v1/chat/completions")

    def _batch(self, state: str) -> dict[str, Any]:
        job = super()._batch(state)
        counts = job["request_counts"]
        return {"id": self.batch_id, "object": "batch", "input_files": ["file-in"],
                "metadata": None, "endpoint": "/v1/chat/completions", "model": self.job_model,
                "output_file": job["output_file_id"], "error_file": job["error_file_id"],
                "errors": [], "status": self._STATUS[state], "created_at": 1700000000,
                "total_requests": counts["total"],
                "completed_requests": counts["completed"] + counts["failed"],
                "succeeded_requests": counts["completed"], "failed_requests": counts["failed"],
                "started_at": 1700000001, "completed_at": None}


class AnthropicBatchFake(BatchFake):
    """Anthropic Message Batches: ``/v1/messages/batches``, its ``results_url`` JSONL."""

    batch_id = "msgbatch_fake1"

    def install(self, server: FakeServer, prefix: str = "/v1") -> None:
        base = f"{prefix}/messages/batches"
        self.results_url = f"{server.url}{base}/{self.batch_id}/results"
        server.add("POST", base, self._create)
        server.add("GET", f"{base}/{self.batch_id}", lambda r: self._poll())
        server.add("POST", f"{base}/{self.batch_id}/cancel", self._cancel)
        server.add("GET", f"{base}/{self.batch_id}/results", lambda r: Reply.text(
            self._results(), "application/binary"))

    def _create(self, req: RecordedRequest) -> Reply:
        for r in req.json()["requests"]:
            if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", r["custom_id"]) or "stream" in r[
                    "params"] or not r["params"].get("max_tokens"):
                return Reply.json({"type": "error", "error": {
                    "type": "invalid_request_error", "message": f"bad request {r}"}},
                    status=400)
            self.items[r["custom_id"]] = r["params"]
        self.submits += 1
        return Reply.json(self._batch("in_progress"))

    def _poll(self) -> Reply:
        self.polls += 1
        state = self.state()
        return Reply.json(self._batch(
            "in_progress" if state == "in_progress" else "ended"))

    def _cancel(self, req: RecordedRequest) -> Reply:
        self.cancelled = True
        return Reply.json(self._batch("canceling"))

    def _batch(self, status: str) -> dict[str, Any]:
        ended = status == "ended"
        kinds = [self._kind(i) for i in self.items] if ended else []
        return {"id": self.batch_id, "type": "message_batch", "processing_status": status,
                "request_counts": {
                    "processing": 0 if ended else len(self.items),
                    "succeeded": kinds.count("succeeded"), "errored": kinds.count("errored"),
                    "canceled": kinds.count("canceled"), "expired": kinds.count("expired")},
                "ended_at": "2026-12-04T02:00:00Z" if ended else None,
                "created_at": "2026-12-04T01:00:00.100435Z",
                "expires_at": "2026-12-05T01:00:00.100435Z", "archived_at": None,
                "cancel_initiated_at": "2026-12-04T01:30:00Z" if self.cancelled else None,
                "results_url": self.results_url if ended else None}

    def _kind(self, custom_id: str) -> str:
        kind = self.outcome(custom_id)
        if kind == "unrun":
            return "canceled" if self.cancelled else "expired"
        return "errored" if kind == "error" else "succeeded"

    def _results(self) -> str:
        lines = []
        for n, (cid, params) in enumerate(self.items.items()):
            kind = self._kind(cid)
            result: dict[str, Any] = {"type": kind}
            if kind == "succeeded":
                result["message"] = {
                    "id": f"msg_{n}", "type": "message", "role": "assistant",
                    "model": params["model"], "stop_reason": "end_turn", "stop_sequence": None,
                    "content": [{"type": "text", "text": answer_for(cid)}],
                    "usage": {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"],
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
            elif kind == "errored":
                result["error"] = {"type": "error", "error": {
                    "type": "invalid_request_error", "message": f"bad request {cid}"}}
            lines.append(json.dumps({"custom_id": cid, "result": result}))
        return "".join(f"{x}\n" for x in lines)


class GeminiBatchFake(BatchFake):
    """Gemini Batch Mode: ``models/{m}:batchGenerateContent``, ``batches/{id}`` operations.

    ``echo_keys = False`` leaves ``metadata`` out of the inlined responses (as the live
    API has been seen to), so the plugin must map results back by input order."""

    batch_id = "fake123"
    echo_keys = True

    def install(self, server: FakeServer, prefix: str = "/v1beta") -> None:
        server.add("POST", re.compile(rf"{prefix}/models/[^/:]+:batchGenerateContent"),
                   self._create)
        server.add("GET", f"{prefix}/batches/{self.batch_id}", lambda r: self._poll())
        server.add("POST", f"{prefix}/batches/{self.batch_id}:cancel", self._cancel)

    def _create(self, req: RecordedRequest) -> Reply:
        self.job_model = "models/" + req.path.rsplit("/", 1)[1].split(":")[0]
        self.inputs = req.json()["batch"]["inputConfig"]["requests"]["requests"]
        for r in self.inputs:
            if "contents" not in r["request"]:
                return Reply.json({"error": {"code": 400, "message": "no contents",
                                             "status": "INVALID_ARGUMENT"}}, status=400)
            self.items[r["metadata"]["key"]] = r["request"]
        self.submits += 1
        return Reply.json(self._op("BATCH_STATE_PENDING"))

    def _poll(self) -> Reply:
        self.polls += 1
        state = {"in_progress": "RUNNING", "completed": "SUCCEEDED", "failed": "FAILED",
                 "expired": "EXPIRED", "cancelled": "CANCELLED"}[self.state()]
        return Reply.json(self._op(f"BATCH_STATE_{state}"))

    def _cancel(self, req: RecordedRequest) -> Reply:
        self.cancelled = True
        return Reply.json({})

    def _op(self, state: str) -> dict[str, Any]:
        done = state in ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_EXPIRED",
                         "BATCH_STATE_CANCELLED", "BATCH_STATE_FAILED")
        kinds = [self.outcome(i) for i in self.items] if done else []
        meta = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                         "GenerateContentBatch",
                "model": self.job_model, "name": f"batches/{self.batch_id}",
                "displayName": "plugbay", "createTime": "2026-12-04T01:00:00.123456Z",
                "state": state, "inputConfig": {"requests": {"requests": self.inputs}},
                "batchStats": {"requestCount": str(len(self.items)),
                               "successfulRequestCount": str(kinds.count("ok")),
                               "failedRequestCount": str(len(kinds) - kinds.count("ok")),
                               "pendingRequestCount": str(len(self.items) - len(kinds))}}
        op: dict[str, Any] = {"name": f"batches/{self.batch_id}", "metadata": meta}
        if state == "BATCH_STATE_FAILED":
            op.update(done=True, error={"code": 3, "message": "the batch could not be run"})
        elif done:
            op.update(done=True, response={
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                         "GenerateContentBatchOutput",
                "inlinedResponses": {"inlinedResponses": [
                    self._answer(cid) for cid in self.items]}})
        return op

    def _answer(self, cid: str) -> dict[str, Any]:
        kind = self.outcome(cid)
        out: dict[str, Any] = {"metadata": {"key": cid}} if self.echo_keys else {}
        if kind == "ok":
            out["response"] = {
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": answer_for(cid)}]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": USAGE["input"],
                                  "candidatesTokenCount": USAGE["output"],
                                  "totalTokenCount": USAGE["input"] + USAGE["output"]},
                "modelVersion": self.job_model.removeprefix("models/") if self.job_model
                else None, "responseId": f"resp-{cid}"}
        elif kind == "error":
            out["error"] = {"code": 400, "message": f"bad request {cid}",
                            "status": "INVALID_ARGUMENT"}
        else:
            out["error"] = {"code": 504, "message": "batch expired before this request ran",
                            "status": "DEADLINE_EXCEEDED"}
        return out
