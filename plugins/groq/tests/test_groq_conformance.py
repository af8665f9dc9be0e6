"""Groq against the conformance suite, with a wire that speaks Groq's real dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire


class GroqWire(OpenAIWire):
    """Groq: ``/openai/v1`` prefix, timings in usage, stream usage only in ``x_groq``,
    ``context_window`` in the model list, ``x-ratelimit-*`` headers on every answer."""

    prefix = "/openai/v1"
    limits = {"x-ratelimit-limit-requests": "1000", "x-ratelimit-remaining-requests": "999",
              "x-ratelimit-limit-tokens": "12000", "x-ratelimit-remaining-tokens": "11950",
              "x-ratelimit-reset-requests": "1m26.4s", "x-ratelimit-reset-tokens": "250ms",
              "x-request-id": "req_01groqfake"}

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {"queue_time": 0.01, "prompt_tokens": usage["input"], "prompt_time": 0.002,
                "completion_tokens": usage["output"], "completion_time": 0.004,
                "total_tokens": usage["input"] + usage["output"], "total_time": 0.006,
                "prompt_tokens_details": {"cached_tokens": usage.get("cached", 0)}}

    def completion(self, model: str, message: dict[str, Any], finish: str,
                   usage: dict[str, int]) -> dict[str, Any]:
        data = super().completion(model, message, finish, usage)
        data.update(system_fingerprint="fp_groq", usage_breakdown=None,
                    x_groq={"id": "req_01groqfake"})
        return data

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        first = self.chunk(model, {"role": "assistant", "content": ""})
        first["x_groq"] = {"id": "req_01groqfake"}
        last = self.chunk(model, {}, finish)
        # Groq puts the stream's usage in x_groq on the finishing chunk, not top-level.
        last["x_groq"] = {"id": "req_01groqfake", "usage": self.usage(usage)}
        return [first, *[self.chunk(model, d) for d in deltas], last, self.done]

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        message = {"role": "assistant", "content": text}
        server.add("POST", self.route(), Reply.json(
            self.completion(model, message, "stop", usage), headers=self.limits))

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        if kind == "rate_limit":
            return {"error": {"message": "Rate limit reached for model `m` on tokens per "
                                         "minute (TPM): Limit 12000, Used 11990. Please try "
                                         "again in 7.5s.", "type": "tokens",
                              "code": "rate_limit_exceeded"}}
        if kind == "auth":
            return {"error": {"message": "Invalid API Key", "type": "invalid_request_error",
                              "code": "invalid_api_key"}}
        if kind == "not_found":
            return {"error": {"message": "The model `m` does not exist or you do not have "
                                         "access to it.", "type": "invalid_request_error",
                              "code": "model_not_found"}}
        return {"error": {"message": "Internal Server Error", "type": "internal_server_error"}}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created": 1693721698, "owned_by": "Meta",
                 "active": True, "context_window": 131072, "public_apps": None,
                 "max_completion_tokens": 32768} for i in ids]
        server.add("GET", self.prefix + self.models_path,
                   Reply.json({"object": "list", "data": data}))


class TestGroqConformance(ProviderConformance):
    provider = "groq"
    model = "llama-3.3-70b-versatile"
    secret = "gsk_conformanceSECRET8f3a9c2b71"
    wire = GroqWire()
