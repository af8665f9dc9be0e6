"""Mistral against the conformance suite, with a wire that speaks Mistral's dialect."""

from __future__ import annotations

import json
from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire


class MistralWire(OpenAIWire):
    """Mistral's chat completions: usage and finish reason in the last content chunk,
    whole tool calls in one chunk with 9-character ids, and Mistral's error bodies."""

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"]}

    def completion(self, model: str, message: dict[str, Any], finish: str,
                   usage: dict[str, int]) -> dict[str, Any]:
        body = super().completion(model, message, finish, usage)
        body["id"] = "cmpl-e5cc70bb28c444948073e77776eb30ef"
        message.setdefault("tool_calls", None)
        message.setdefault("prefix", False)
        return body

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events: list[Any] = [self.chunk(model, {"role": "assistant", "content": ""})]
        events += [self.chunk(model, d) for d in deltas[:-1]]
        last = self.chunk(model, deltas[-1] if deltas else {"content": ""}, finish)
        last["usage"] = self.usage(usage)
        events.append(last)
        events.append(self.done)
        return events

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        call = {"id": "D681PevKs", "type": "function", "index": 0,
                "function": {"name": name, "arguments": json.dumps(arguments)}}
        usage = {"input": 20, "output": 10}
        if stream:
            server.add("POST", self.route(), Reply.sse(self.stream_events(
                model, [{"content": "", "tool_calls": [call]}], "tool_calls", usage)))
        else:
            message = {"role": "assistant", "content": "", "tool_calls": [call]}
            server.add("POST", self.route(), Reply.json(
                self.completion(model, message, "tool_calls", usage)))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        body: dict[str, Any]
        if kind == "auth":
            body = {"message": "Unauthorized", "request_id": "8a0c9d1e2f"}
        elif kind == "not_found":
            status = 400
            body = {"object": "error", "message": f"Invalid model: {model}x",
                    "type": "invalid_model", "param": None, "code": "1500"}
        elif kind == "rate_limit":
            body = {"message": "Requests rate limit exceeded"}
        else:
            body = {"object": "error", "message": "Internal server error",
                    "type": "internal_server_error", "param": None, "code": "1000"}
        headers = {"retry-after": "2"} if kind == "rate_limit" else {}
        server.add("POST", self.route(), Reply.json(body, status=status, headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created": 1700000000, "owned_by": "mistralai",
                 "capabilities": {"completion_chat": True, "function_calling": True,
                                  "completion_fim": False, "fine_tuning": False,
                                  "vision": False, "classification": False},
                 "name": i, "description": "fake", "max_context_length": 131072,
                 "aliases": [], "deprecation": None, "default_model_temperature": 0.3,
                 "type": "base"} for i in ids]
        server.add("GET", "/v1/models", Reply.json({"object": "list", "data": data}))


class TestMistralConformance(ProviderConformance):
    provider = "mistral"
    model = "mistral-small-latest"
    wire = MistralWire()
    supports_cached_usage = False
