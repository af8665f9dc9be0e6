"""DeepInfra for plugbay: OpenAI-compatible inference with a public, priced model list."""

from __future__ import annotations

from typing import Any

from plugbay.context import ProviderContext
from plugbay.embeddings import EmbedLimits
from plugbay.openai_compat import OpenAICompatible
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.openai_compat.provider import price_from_listing
from plugbay.types import ModelInfo, Price

# metadata.pricing is USD per million tokens.
_PRICE_FIELDS = {"input": "input_tokens", "output": "output_tokens",
                 "cached_input": "cache_read_tokens"}


class DeepInfra(OpenAIEmbeddings, OpenAICompatible):
    name = "deepinfra"
    default_base_url = "https://api.deepinfra.com/v1/openai"
    api_key_env = ("DEEPINFRA_TOKEN",)  # the name DeepInfra's own examples use
    models_need_key = False
    price_package = __name__

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        meta = item.get("metadata") or {}
        info.context_window = info.context_window or meta.get("context_length")
        info.max_output_tokens = info.max_output_tokens or meta.get("max_tokens")
        tags = meta.get("tags")
        if isinstance(tags, list) and info.supports_vision is None:
            info.supports_vision = "vision" in tags
        return info

    def listing_prices(self, item: dict[str, Any], ctx: ProviderContext) -> dict[str, Price]:
        pricing = (item.get("metadata") or {}).get("pricing")
        price = price_from_listing(pricing, _PRICE_FIELDS, source=self.url(ctx, self.models_path))
        return {item["id"]: price} if price is not None else {}


# DeepInfra documents no batch size for /v1/openai/embeddings: a conservative 64.
embed_limits = EmbedLimits(batch=64)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = DeepInfra()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
