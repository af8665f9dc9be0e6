"""DeepSeek for plugbay: OpenAI-compatible Chat Completions with DeepSeek's quirks.

The shared base already understands ``reasoning_content`` (surfaced as
``Completion.reasoning`` / ``ReasoningDelta``), ``prompt_cache_hit_tokens`` (mapped to
``Usage.cached_input_tokens``), ``: keep-alive`` SSE comments and the leading blank
lines DeepSeek sends before a queued non-stream body. What is DeepSeek's own lives here:
passing thinking back on tool-call turns, the error refinements and the balance-based
health probe.
"""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.models import HTTPResponse
from plugbay.openai_compat import OpenAICompatible
from plugbay.types import Health, Request


class DeepSeek(OpenAICompatible):
    name = "deepseek"
    default_base_url = "https://api.deepseek.com"
    health_path = "/user/balance"
    price_package = __name__

    def body(self, request: Request, ctx: ProviderContext, *, stream: bool) -> dict[str, Any]:
        body = super().body(request, ctx, stream=stream)
        # In thinking mode an assistant turn that called tools must carry its
        # reasoning_content in every later request (DeepSeek answers 400 otherwise); on
        # turns without tool calls it is ignored, so it is only sent where required.
        for message, sent in zip(request.messages, body["messages"], strict=True):
            if message.role == "assistant" and message.tool_calls and message.reasoning:
                sent["reasoning_content"] = message.reasoning
        thinking = ctx.option("thinking")
        if thinking is not None and "thinking" not in body:
            # Instance default for DeepSeek's thinking toggle (on unless told otherwise).
            on = thinking if isinstance(thinking, bool) else str(thinking) == "enabled"
            body["thinking"] = {"type": "enabled" if on else "disabled"}
        return body

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        low = message.lower()
        if status == 402 or "insufficient balance" in low:
            return errors.QuotaExceededError
        if status == 503 or "overloaded" in low:
            return errors.OverloadedError
        if "model not exist" in low:  # an unknown model is a 400, not a 404
            return errors.ModelNotFoundError
        return super().error_class(status, code, message)

    @hookimpl
    async def health(self, provider: ProviderContext) -> Health:
        """``GET /user/balance``: checks the key and whether the account can still pay."""
        def judge(response: HTTPResponse, latency: float) -> Health | None:
            try:
                data: Any = response.json()
            except ValueError:
                return None
            if isinstance(data, dict) and data.get("is_available") is False:
                # The key works but every call would fail with 402 until topped up.
                return Health(provider=provider.name, status="down", latency=latency,
                              detail="insufficient balance (is_available false)")
            return None

        return await probe(provider, lambda: provider.http.request(
            "GET", self.url(provider, self.health_path or ""), headers=self.headers(provider),
            timeout=10.0), self.map_error, judge=judge)


plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = DeepSeek()
complete, stream, list_models, price, health = plugin.hookimpls()
