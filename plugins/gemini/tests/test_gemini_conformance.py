"""Gemini against the conformance suite, with a wire speaking generateContent."""

from __future__ import annotations

import re
from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import Wire


class GeminiWire(Wire):
    """AI Studio framing: CRLF SSE ending at EOF, google.rpc errors, paged model list."""

    prefix = "/v1beta"

    def base_url(self, server_url: str) -> str:
        return server_url + self.prefix

    def route(self, model: str, method: str) -> str:
        return f"{self.prefix}/models/{model}:{method}"

    @staticmethod
    def usage(usage: dict[str, int]) -> dict[str, Any]:
        meta = {"promptTokenCount": usage["input"], "candidatesTokenCount": usage["output"],
                "totalTokenCount": usage["input"] + usage["output"],
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage["input"]}]}
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
                               "responseId": "resp-fake"}
        if usage:
            out["usageMetadata"] = usage
        return out

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        body = self.chunk([{"text": text}], "STOP", self.usage(usage))
        server.add("POST", self.route(model, "generateContent"), Reply.json(body))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        partial = {**self.usage(usage), "candidatesTokenCount": 1}
        events = [self.chunk([{"text": p}], usage=partial) for p in pieces[:-1]]
        events.append(self.chunk([{"text": pieces[-1]}], "STOP", self.usage(usage)))
        server.add("POST", self.route(model, "streamGenerateContent"),
                   Reply.sse(events, crlf=True))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        usage = self.usage({"input": 20, "output": 10})
        body = self.chunk([{"functionCall": {"name": name, "args": arguments},
                            "thoughtSignature": "c2lnbmF0dXJl"}], "STOP", usage)
        if stream:
            server.add("POST", self.route(model, "streamGenerateContent"),
                       Reply.sse([body], crlf=True))
        else:
            server.add("POST", self.route(model, "generateContent"), Reply.json(body))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status, rpc, details = {
            # A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID on AI Studio.
            "auth": (400, "INVALID_ARGUMENT", [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com"}]),
            "not_found": (404, "NOT_FOUND", []),
            "rate_limit": (429, "RESOURCE_EXHAUSTED", [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}]),
            "server": (500, "INTERNAL", []),
            "overloaded": (503, "UNAVAILABLE", []),
        }[kind]
        body = {"error": {"code": status, "message": f"fake {kind} error", "status": rpc,
                          "details": details}}
        server.add("POST", self.route(model, "generateContent"), Reply.json(body, status=status))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        models = [{"name": f"models/{i}", "displayName": i, "inputTokenLimit": 1048576,
                   "outputTokenLimit": 65536, "supportedGenerationMethods": ["generateContent"]}
                  for i in ids]
        models.append({"name": "models/text-embedding-x",
                       "supportedGenerationMethods": ["embedContent"]})
        server.add("GET", self.prefix + "/models", Reply.json({"models": models}))

    def script_outage(self, server: FakeServer) -> None:
        for method in ("GET", "POST"):
            server.add(method, re.compile(r".*"), Reply.json({"error": {
                "code": 500, "message": "fake outage", "status": "INTERNAL"}}, status=500))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("x-goog-api-key") == secret and "key" not in request.query


class TestGeminiConformance(ProviderConformance):
    provider = "gemini"
    model = "gemini-2.5-flash"
    wire = GeminiWire()
