"""Groq for plugbay: OpenAI-compatible Chat Completions on GroqCloud."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.http.hints import rate_limits
from plugbay.openai_compat import OpenAICompatible, codec
from plugbay.types import ModelInfo


class Groq(OpenAICompatible):
    name = "groq"
    default_base_url = "https://api.groq.com/openai/v1"
    # Groq documents max_completion_tokens; max_tokens is the deprecated alias.
    max_tokens_field = "max_completion_tokens"
    price_package = __name__

    def on_chunk(self, chunk: dict[str, Any], state: dict[str, Any]) -> None:
        # Groq reports stream usage inside x_groq; top-level usage, when sent, still wins.
        extra = chunk.get("x_groq")
        if isinstance(extra, dict) and isinstance(extra.get("usage"), dict):
            state["usage"] = codec.parse_usage(extra["usage"])

    def completion_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        # queue_time, prompt_time, completion_time, total_time (seconds) ride along in usage.
        usage = data.get("usage") or {}
        timing = {k: v for k, v in usage.items() if k.endswith("_time")}
        return {"timing": timing} if timing else {}

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        if status == 498 or code == "capacity_exceeded":
            return errors.OverloadedError  # flex tier at capacity: Groq says back off and retry
        return super().error_class(status, code, message)

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)  # Groq's listing says context_window
        info.context_window = info.context_window or item.get("context_window")
        info.max_output_tokens = info.max_output_tokens or item.get("max_completion_tokens")
        return info

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        # A 429 carries x-ratelimit-* too: keep the latest figures where callers can read them.
        limits = rate_limits(headers)
        if limits:
            ctx.state["rate_limits"] = limits
        return super().map_error(status, headers, raw, ctx)


plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Groq()
complete, stream, list_models, price, health = plugin.hookimpls()
