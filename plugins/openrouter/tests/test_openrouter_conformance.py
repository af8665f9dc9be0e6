"""OpenRouter against the conformance suite, with a wire that speaks OpenRouter's dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

PROCESSING = ": OPENROUTER PROCESSING\n\n"


class OpenRouterWire(OpenAIWire):
    """OpenRouter: ``/api/v1`` prefix, ``: OPENROUTER PROCESSING`` keep-alives, ``provider``
    and ``native_finish_reason`` on answers, ``usage.cost``, numeric error codes with
    ``metadata``, a public catalogue with per-token string pricing and ``/key``."""

    prefix = "/api/v1"
    upstream = "OpenAI"
    cost = 0.0000123

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"], "cost": self.cost,
                "is_byok": False,
                "prompt_tokens_details": {"cached_tokens": usage.get("cached", 0),
                                          "audio_tokens": 0},
                "cost_details": {"upstream_inference_cost": None},
                "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 0}}

    def completion(self, model: str, message: dict[str, Any], finish: str,
                   usage: dict[str, int]) -> dict[str, Any]:
        message = {"refusal": None, "reasoning": None, **message}
        return {"id": "gen-1700000000-abcdef", "provider": self.upstream, "model": model,
                "object": "chat.completion", "created": 1700000000,
                "choices": [{"logprobs": None, "finish_reason": finish,
                             "native_finish_reason": finish, "index": 0, "message": message}],
                "usage": self.usage(usage)}

    def chunk(self, model: str, delta: dict[str, Any], finish: str | None = None,
              ) -> dict[str, Any]:
        return {"id": "gen-1700000000-abcdef", "provider": self.upstream, "model": model,
                "object": "chat.completion.chunk", "created": 1700000000,
                "choices": [{"index": 0, "delta": {"role": "assistant", **delta},
                             "finish_reason": finish, "native_finish_reason": finish,
                             "logprobs": None}]}

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events: list[Any] = [PROCESSING, PROCESSING]  # sent while a provider is picked
        events += [self.chunk(model, d) for d in deltas]
        events.append(self.chunk(model, {"content": ""}, finish))
        events.append({"id": "gen-1700000000-abcdef", "provider": self.upstream,
                       "model": model, "object": "chat.completion.chunk",
                       "created": 1700000000,
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None, "native_finish_reason": None,
                                    "logprobs": None}],
                       "usage": self.usage(usage)})
        events.append(self.done)
        return events

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        if kind == "rate_limit":
            return {"error": {"code": 429, "message": "Provider returned error",
                              "metadata": {"provider_name": "Google",
                                           "raw": "google/gemini is temporarily rate-limited "
                                                  "upstream"}},
                    "user_id": "user_2abc"}
        messages = {"auth": "No auth credentials found",
                    "not_found": "No endpoints found for fake/model.",
                    "overloaded": "No instances available",
                    "server": "Internal Server Error"}
        return {"error": {"code": status, "message": messages.get(kind, "error")}}

    def model_entry(self, model_id: str, prompt: str = "0.0000025",
                    completion: str = "0.00001") -> dict[str, Any]:
        return {"id": model_id, "canonical_slug": model_id, "hugging_face_id": "",
                "name": f"Fake: {model_id}", "created": 1700000000, "description": "",
                "context_length": 128000,
                "architecture": {"modality": "text+image->text",
                                 "input_modalities": ["text", "image"],
                                 "output_modalities": ["text"], "tokenizer": "GPT",
                                 "instruct_type": None},
                "pricing": {"prompt": prompt, "completion": completion, "request": "0",
                            "image": "0.003613", "web_search": "0", "internal_reasoning": "0",
                            "input_cache_read": "0.00000125", "input_cache_write": "0"},
                "top_provider": {"context_length": 128000, "max_completion_tokens": 16384,
                                 "is_moderated": True},
                "per_request_limits": None,
                "supported_parameters": ["max_tokens", "temperature", "tools", "tool_choice",
                                         "response_format", "structured_outputs"]}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        server.add("GET", self.prefix + self.models_path,
                   Reply.json({"data": [self.model_entry(i) for i in ids]}))
        server.add("GET", self.prefix + "/key", Reply.json({"data": {
            "label": "sk-or-v1-abc...xyz", "limit": None, "usage": 0.25, "is_free_tier": False,
            "limit_remaining": None, "rate_limit": {"requests": 230, "interval": "10s"}}}))


class TestOpenRouterConformance(ProviderConformance):
    provider = "openrouter"
    model = "openai/gpt-4o-mini"
    secret = "sk-or-v1-conformanceSECRET8f3a9c2b71"
    wire = OpenRouterWire()
