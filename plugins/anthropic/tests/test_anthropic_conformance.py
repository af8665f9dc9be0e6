"""Anthropic against the conformance suite, with a wire speaking the Messages API."""

from __future__ import annotations

import json
from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS, Wire


def sse(event: str, data: dict[str, Any]) -> str:
    # Real responses pad the JSON with spaces before the closing brace.
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))[:-1]}    }}\n\n"


class AnthropicWire(Wire):
    """Messages API framing: named SSE events, block model, Anthropic error shape."""

    route = "/v1/messages"

    @staticmethod
    def usage(usage: dict[str, int]) -> dict[str, Any]:
        cached = usage.get("cached", 0)
        return {"input_tokens": usage["input"] - cached, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": cached, "output_tokens": usage["output"],
                "service_tier": "standard"}

    def message(self, model: str, content: list[dict[str, Any]], stop: str,
                usage: dict[str, int]) -> dict[str, Any]:
        return {"id": "msg_01Fake", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": self.usage(usage)}

    def events(self, model: str, blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]],
               stop: str, usage: dict[str, int]) -> list[str]:
        start = self.message(model, [], None, usage)  # type: ignore[arg-type]
        start["usage"]["output_tokens"] = 1
        out = [sse("message_start", {"type": "message_start", "message": start}),
               sse("ping", {"type": "ping"})]
        for i, (block, deltas) in enumerate(blocks):
            out.append(sse("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": block}))
            out += [sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                 "delta": d}) for d in deltas]
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": i}))
        out.append(sse("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": self.usage(usage)}))
        out.append(sse("message_stop", {"type": "message_stop"}))
        return out

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        body = self.message(model, [{"type": "text", "text": text}], "end_turn", usage)
        server.add("POST", self.route, Reply.json(body, headers={
            "request-id": "req_fake", "anthropic-ratelimit-requests-remaining": "99"}))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        deltas = [{"type": "text_delta", "text": p} for p in pieces]
        events = self.events(model, [({"type": "text", "text": ""}, deltas)], "end_turn", usage)
        server.add("POST", self.route, Reply.sse(events))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        usage = {"input": 20, "output": 10}
        block = {"type": "tool_use", "id": "toolu_01Fake", "name": name, "input": {}}
        if not stream:
            body = self.message(model, [{"type": "text", "text": "Checking."},
                                        {**block, "input": arguments}], "tool_use", usage)
            server.add("POST", self.route, Reply.json(body))
            return
        args = json.dumps(arguments)
        half = len(args) // 2
        deltas = [{"type": "input_json_delta", "partial_json": p}
                  for p in ("", args[:half], args[half:])]
        events = self.events(model, [({"type": "text", "text": ""},
                                      [{"type": "text_delta", "text": "Checking."}]),
                                     (block, deltas)], "tool_use", usage)
        server.add("POST", self.route, Reply.sse(events))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        etype = {"auth": "authentication_error", "not_found": "not_found_error",
                 "rate_limit": "rate_limit_error", "server": "api_error",
                 "overloaded": "overloaded_error"}[kind]
        if kind == "overloaded":
            status = 529  # Anthropic's own overload status
        headers = {"request-id": "req_fake", "retry-after": "2"} if kind == "rate_limit" \
            else {"request-id": "req_fake"}
        server.add("POST", self.route, Reply.json(
            {"type": "error", "error": {"type": etype, "message": f"fake {kind} error"},
             "request_id": "req_fake"}, status=status, headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"type": "model", "id": i, "display_name": i, "created_at": "2026-01-01T00:00:00Z"}
                for i in ids]
        server.add("GET", "/v1/models", Reply.json({
            "data": data, "has_more": False, "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None}))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return (request.headers.get("x-api-key") == secret
                and request.headers.get("anthropic-version") == "2023-06-01")


class TestAnthropicConformance(ProviderConformance):
    provider = "anthropic"
    model = "claude-haiku-4-5"
    wire = AnthropicWire()
