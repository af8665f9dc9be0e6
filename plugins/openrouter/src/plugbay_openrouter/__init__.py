"""OpenRouter for plugbay: one key, hundreds of models, routing and live per-token pricing."""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.openai_compat import OpenAICompatible
from plugbay.openai_compat.provider import price_from_listing
from plugbay.types import ModelInfo, Price, Request

# OpenRouter's listing prices are USD per token, as strings.
_PRICE_FIELDS = {"input": "prompt", "output": "completion", "cached_input": "input_cache_read",
                 "cache_write": "input_cache_write"}
_ROUTING = ("models", "provider")  # server-side fallback list and provider preferences


class OpenRouter(OpenAICompatible):
    name = "openrouter"
    default_base_url = "https://openrouter.ai/api/v1"
    health_path = "/key"  # authenticated, cheap, and says whether the key still has credit
    models_need_key = False  # the catalogue (with pricing) is public
    price_package = __name__

    def extra_headers(self, ctx: ProviderContext) -> dict[str, str]:
        # Optional app attribution on openrouter.ai rankings.
        headers = {}
        site_url = ctx.setting("site_url")
        site_name = ctx.setting("site_name")
        if site_url:
            headers["HTTP-Referer"] = site_url
        if site_name:
            headers["X-Title"] = site_name
        return headers

    def body(self, request: Request, ctx: ProviderContext, *, stream: bool) -> dict[str, Any]:
        body = super().body(request, ctx, stream=stream)
        for key in _ROUTING:  # instance defaults; the request's own extra wins
            default = ctx.option(key)
            if default and key not in request.extra:
                body[key] = default
        return body

    def completion_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        usage = data.get("usage") or {}
        for key in ("cost", "cost_details", "is_byok"):
            if usage.get(key) is not None:
                extra[key] = usage[key]
        if data.get("provider"):
            extra["upstream_provider"] = data["provider"]
        choices = data.get("choices") or [{}]
        native = choices[0].get("native_finish_reason")
        if native:
            extra["native_finish_reason"] = native
        return extra

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        low = message.lower()
        if status == 403 and ("moderation" in low or "flagged" in low):
            return errors.ContentFilterError
        return super().error_class(status, code, message)

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        top = item.get("top_provider") or {}
        params = item.get("supported_parameters")
        modalities = (item.get("architecture") or {}).get("input_modalities")
        info.display_name = info.display_name or item.get("name")
        info.max_output_tokens = info.max_output_tokens or top.get("max_completion_tokens")
        if isinstance(params, list):
            info.supports_tools = "tools" in params
            info.supports_json_schema = "structured_outputs" in params
            info.supports_reasoning = "reasoning" in params
        if isinstance(modalities, list):
            info.supports_vision = "image" in modalities
        return info

    def listing_prices(self, item: dict[str, Any], ctx: ProviderContext) -> dict[str, Price]:
        price = price_from_listing(item.get("pricing"), _PRICE_FIELDS, scale=1e6,
                                   source=self.url(ctx, self.models_path))
        if price is None:
            return {}
        # "0" for cache rates means the model has no cache pricing, not free cache reads.
        price.cached_input = price.cached_input or None
        price.cache_write = price.cache_write or None
        return {item["id"]: price}


plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = OpenRouter()
complete, stream, list_models, price, health = plugin.hookimpls()
