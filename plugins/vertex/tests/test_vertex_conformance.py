"""Vertex AI against the conformance suite, through both publishers: Gemini
(generateContent) and Claude (rawPredict), with service-account credentials whose token
comes from a fake OAuth2 token endpoint."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from plugbay_vertex.testing import FakeGoogleOAuth

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import Wire

pytest.importorskip("cryptography")
pytest.importorskip("google.auth")

PROJECT, LOCATION = "conf-project", "us-east5"
PREFIX = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers"


class VertexWire(Wire):
    publisher = "google"
    complete_method, stream_method = "generateContent", "streamGenerateContent"

    def route(self, model: str, method: str) -> str:
        return f"{PREFIX}/{self.publisher}/models/{model}:{method}"

    def google_error(self, kind: str) -> tuple[int, dict[str, Any]]:
        status, rpc, details = {
            "auth": (401, "UNAUTHENTICATED", []),
            "not_found": (404, "NOT_FOUND", []),
            "rate_limit": (429, "RESOURCE_EXHAUSTED", [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]),
            "server": (500, "INTERNAL", []),
            "overloaded": (503, "UNAVAILABLE", []),
        }[kind]
        return status, {"error": {"code": status, "message": f"fake vertex {kind} error",
                                  "status": rpc, "details": details}}

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status, body = self.google_error(kind)
        server.add("POST", self.route(model, self.complete_method),
                   Reply.json(body, status=status))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        # The listing is the price table; health GETs one publisher model.
        server.add("GET", "/v1/publishers/google/models/gemini-2.5-flash", Reply.json(
            {"name": "publishers/google/models/gemini-2.5-flash"}))

    def script_outage(self, server: FakeServer) -> None:
        for method in ("GET", "POST"):
            server.add(method, re.compile(r"/v1/.*"), Reply.json({"error": {
                "code": 500, "message": "fake outage", "status": "INTERNAL"}}, status=500))

    def body_ok(self, request: RecordedRequest) -> bool:
        contents = request.json()["contents"]
        return all(c.get("role") in ("user", "model") for c in contents)  # Vertex insists

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        if request.headers.get("authorization") != f"Bearer {secret}":
            return False
        return request.method != "POST" or self.body_ok(request)


class VertexGeminiWire(VertexWire):
    @staticmethod
    def usage(usage: dict[str, int]) -> dict[str, Any]:
        meta = {"promptTokenCount": usage["input"], "candidatesTokenCount": usage["output"],
                "totalTokenCount": usage["input"] + usage["output"]}
        if usage.get("cached"):
            meta["cachedContentTokenCount"] = usage["cached"]
        return meta

    @staticmethod
    def chunk(parts: list[dict[str, Any]], finish: str | None = None,
              usage: dict[str, Any] | None = None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        out: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-2.5-flash",
                               "createTime": "2026-11-22T10:00:00Z", "responseId": "vtx-1"}
        if usage:
            out["usageMetadata"] = usage
        return out

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        server.add("POST", self.route(model, "generateContent"),
                   Reply.json(self.chunk([{"text": text}], "STOP", self.usage(usage))))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        events = [self.chunk([{"text": p}]) for p in pieces[:-1]]
        events.append(self.chunk([{"text": pieces[-1]}], "STOP", self.usage(usage)))
        server.add("POST", self.route(model, "streamGenerateContent"), Reply.sse(events))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        body = self.chunk([{"functionCall": {"name": name, "args": arguments}}], "STOP",
                          self.usage({"input": 20, "output": 10}))
        if stream:
            server.add("POST", self.route(model, "streamGenerateContent"), Reply.sse([body]))
        else:
            server.add("POST", self.route(model, "generateContent"), Reply.json(body))


class VertexClaudeWire(VertexWire):
    """Claude's Messages format behind rawPredict / streamRawPredict."""

    publisher = "anthropic"
    complete_method, stream_method = "rawPredict", "streamRawPredict"

    @staticmethod
    def message(content: list[dict[str, Any]], stop: str, usage: dict[str, int],
                ) -> dict[str, Any]:
        return {"id": "msg_vrtx_01", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5-20250929", "content": content,
                "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": usage["input"] - usage.get("cached", 0),
                          "cache_read_input_tokens": usage.get("cached", 0),
                          "cache_creation_input_tokens": 0, "output_tokens": usage["output"]}}

    @staticmethod
    def sse(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]

    def stream_events(self, blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                      stop: str, usage: dict[str, int]) -> list[str]:
        start = self.message([], "", usage)
        start["stop_reason"], start["usage"]["output_tokens"] = None, 1
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
            ("ping", {"type": "ping"})]
        for index, (block, deltas) in enumerate(blocks):
            events.append(("content_block_start", {"type": "content_block_start",
                                                   "index": index, "content_block": block}))
            events += [("content_block_delta", {"type": "content_block_delta", "index": index,
                                                "delta": d}) for d in deltas]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens":
                                                                   usage["output"]}}))
        events.append(("message_stop", {"type": "message_stop"}))
        return self.sse(events)

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        server.add("POST", self.route(model, "rawPredict"), Reply.json(
            self.message([{"type": "text", "text": text}], "end_turn", usage)))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        deltas = [{"type": "text_delta", "text": p} for p in pieces]
        server.add("POST", self.route(model, "streamRawPredict"), Reply.sse(
            self.stream_events([({"type": "text", "text": ""}, deltas)], "end_turn", usage)))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        usage = {"input": 20, "output": 10}
        if not stream:
            server.add("POST", self.route(model, "rawPredict"), Reply.json(self.message(
                [{"type": "tool_use", "id": "toolu_vrtx", "name": name, "input": arguments}],
                "tool_use", usage)))
            return
        args = json.dumps(arguments)
        deltas = [{"type": "input_json_delta", "partial_json": part}
                  for part in ("", args[:7], args[7:])]
        block = {"type": "tool_use", "id": "toolu_vrtx", "name": name, "input": {}}
        server.add("POST", self.route(model, "streamRawPredict"), Reply.sse(
            self.stream_events([(block, deltas)], "tool_use", usage)))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        if kind in ("auth", "not_found"):  # Vertex's own gate answers these
            super().script_error(server, kind=kind, model=model)
            return
        status, etype = {"rate_limit": (429, "rate_limit_error"), "server": (500, "api_error"),
                         "overloaded": (503, "overloaded_error")}[kind]
        headers = {"retry-after": "3"} if kind == "rate_limit" else {}
        server.add("POST", self.route(model, "rawPredict"), Reply.json(
            {"type": "error", "error": {"type": etype, "message": f"fake claude {kind}"}},
            status=status, headers=headers))

    def body_ok(self, request: RecordedRequest) -> bool:
        body = request.json()
        return body.get("anthropic_version") == "vertex-2023-10-16" and "model" not in body


class VertexConformance(ProviderConformance):
    provider = "vertex"
    secret = "ya29.conformance-SECRET-a9f3c2"
    _tmp = Path(tempfile.mkdtemp(prefix="plugbay-vertex-"))

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        oauth = FakeGoogleOAuth(server, project=PROJECT, tokens=iter([self.secret] * 1000))
        folder = self._tmp / str(server.port)
        folder.mkdir(exist_ok=True)
        key = oauth.write_service_account(folder)
        return {"base_url": server.url, "location": LOCATION, "credentials_file": str(key)}


class TestVertexGeminiConformance(VertexConformance):
    model = "gemini-2.5-flash"
    wire = VertexGeminiWire()


class TestVertexClaudeConformance(VertexConformance):
    model = "claude-sonnet-4-5@20250929"
    wire = VertexClaudeWire()
