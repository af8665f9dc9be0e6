"""DeepSeek against the conformance suite, with a wire that speaks DeepSeek's dialect."""

from __future__ import annotations

import json
from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire


class DeepSeekWire(OpenAIWire):
    """No ``/v1`` prefix, DeepSeek's usage keys, keep-alive comments while queued,
    blank lines before a non-stream body, and DeepSeek's error bodies."""

    prefix = ""

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        cached = usage.get("cached", 0)
        return {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"],
                "prompt_cache_hit_tokens": cached,
                "prompt_cache_miss_tokens": usage["input"] - cached}

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events = super().stream_events(model, deltas, finish, usage)
        return [": keep-alive\n\n", ": keep-alive\n\n", *events]

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        body = self.completion(model, {"role": "assistant", "content": text}, "stop", usage)
        server.add("POST", self.route(), Reply.raw(b"\n\n\n" + json.dumps(body).encode(),
                                                   content_type="application/json"))

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        message = {"auth": "Authentication Fails (no such user)",
                   "not_found": "Model Not Exist",
                   "rate_limit": "Rate Limit Reached",
                   "overloaded": "Server overloaded"}.get(kind, "Server Error")
        return {"error": {"message": message, "type": "invalid_request_error", "param": None,
                          "code": "invalid_request_error"}}

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        if kind == "not_found":
            status = 400  # DeepSeek answers an unknown model with 400 "Model Not Exist"
        server.add("POST", self.route(), Reply.json(self.error_body(kind, status),
                                                    status=status))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "owned_by": "deepseek"} for i in ids]
        server.add("GET", "/models", Reply.json({"object": "list", "data": data}))
        server.add("GET", "/user/balance", Reply.json({
            "is_available": True,
            "balance_infos": [{"currency": "USD", "total_balance": "10.00",
                               "granted_balance": "0.00", "topped_up_balance": "10.00"}]}))


class TestDeepSeekConformance(ProviderConformance):
    provider = "deepseek"
    model = "deepseek-flash"
    wire = DeepSeekWire()
