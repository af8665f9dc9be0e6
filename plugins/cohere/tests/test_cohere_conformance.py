"""Cohere against the conformance suite, through its installed entry point."""

from __future__ import annotations

import json
from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS, Wire


def sse(kind: str, data: dict[str, Any]) -> str:
    """One named Cohere event: ``event:`` line plus ``data:`` carrying the type again."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


class CohereWire(Wire):
    """Cohere v2 Chat as the API speaks it (named SSE events, billed units, {id, message})."""

    chat = "/v2/chat"

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        # `tokens` counts more than is billed (the preamble): the plugin must price billed.
        # `cached_tokens` counts over `tokens`, and the preamble comes first, so a hit on
        # `cached` billed tokens is reported as the preamble plus those.
        cached = usage.get("cached", 0)
        return {"billed_units": {"input_tokens": usage["input"],
                                 "output_tokens": usage["output"]},
                "tokens": {"input_tokens": usage["input"] + 300,
                           "output_tokens": usage["output"] + 2},
                "cached_tokens": cached + 300 if cached else 0}

    def response(self, message: dict[str, Any], finish: str,
                 usage: dict[str, int]) -> dict[str, Any]:
        return {"id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4", "finish_reason": finish,
                "message": {"role": "assistant", **message}, "usage": self.usage(usage)}

    def start(self) -> list[str]:
        return [sse("message-start", {"id": "c14c80c3", "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
            "citations": []}}})]

    def end(self, finish: str, usage: dict[str, int]) -> list[str]:
        return [sse("message-end", {"delta": {"finish_reason": finish,
                                              "usage": self.usage(usage)}})]

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        message = {"content": [{"type": "text", "text": text}]}
        server.add("POST", self.chat, Reply.json(self.response(message, "COMPLETE", usage)))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        events = self.start()
        events.append(sse("content-start", {"index": 0, "delta": {"message": {
            "content": {"type": "text", "text": ""}}}}))
        events += [sse("content-delta", {"index": 0, "delta": {"message": {
            "content": {"text": p}}}}) for p in pieces]
        events.append(sse("content-end", {"index": 0}))
        events += self.end("COMPLETE", usage)
        server.add("POST", self.chat, Reply.sse(events))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        args = json.dumps(arguments)
        usage = {"input": 20, "output": 10}
        plan = "I will look up the weather."
        if not stream:
            call = {"id": "get_weather_k3qzyh2b0s1a", "type": "function",
                    "function": {"name": name, "arguments": args}}
            message = {"tool_plan": plan, "tool_calls": [call]}
            server.add("POST", self.chat, Reply.json(self.response(message, "TOOL_CALL",
                                                                   usage)))
            return
        half = len(args) // 2
        events = self.start()
        events.append(sse("tool-plan-delta", {"delta": {"message": {"tool_plan": plan}}}))
        events.append(sse("tool-call-start", {"index": 0, "delta": {"message": {"tool_calls": {
            "id": "get_weather_k3qzyh2b0s1a", "type": "function",
            "function": {"name": name, "arguments": ""}}}}}))
        for part in (args[:half], args[half:]):
            events.append(sse("tool-call-delta", {"index": 0, "delta": {"message": {
                "tool_calls": {"function": {"arguments": part}}}}}))
        events.append(sse("tool-call-end", {"index": 0}))
        events += self.end("TOOL_CALL", usage)
        server.add("POST", self.chat, Reply.sse(events))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        message = {"auth": "invalid api token",
                   "not_found": f"model '{model}' not found, make sure the correct model ID "
                                "was used and that you have access to the model.",
                   "rate_limit": "You are using a Trial key, which is limited to 20 API calls "
                                 "/ minute.",
                   "overloaded": "service unavailable"}.get(kind, "internal server error")
        headers = {"x-debug-trace-id": "trace-fake"}
        if kind == "rate_limit":
            headers["retry-after"] = "3"
        server.add("POST", self.chat, Reply.json(
            {"id": "3d8e1f0a-0000-4000-8000-fake", "message": message}, status=status,
            headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        models = [{"name": i, "endpoints": ["chat"], "finetuned": False,
                   "context_length": 128000, "features": ["tools", "json_schema"]}
                  for i in ids]
        server.add("GET", "/v1/models", Reply.json({"models": models}))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {secret}"


class TestCohereConformance(ProviderConformance):
    provider = "cohere"
    model = "command-r-08-2024"
    wire = CohereWire()
