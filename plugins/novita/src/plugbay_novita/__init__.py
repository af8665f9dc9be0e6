"""Novita AI for plugbay: OpenAI-compatible inference with a priced model list."""

from __future__ import annotations

from typing import Any

from plugbay.context import ProviderContext
from plugbay.embeddings import EmbedLimits
from plugbay.openai_compat import OpenAICompatible
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.openai_compat.provider import price_from_listing
from plugbay.types import ModelInfo, Price

_PRICE_FIELDS = {"input": "input_token_price_per_m", "output": "output_token_price_per_m"}
# The listing's *_per_m figures are in units of 0.0001 USD per million tokens (5700 = $0.57).
_UNIT = 1e-4


class Novita(OpenAIEmbeddings, OpenAICompatible):
    name = "novita"
    default_base_url = "https://api.novita.ai/openai/v1"
    price_package = __name__

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        info.display_name = info.display_name or item.get("title") or item.get("display_name")
        info.context_window = info.context_window or item.get("context_size")
        info.max_output_tokens = info.max_output_tokens or item.get("max_output_tokens")
        modalities = item.get("input_modalities")
        if isinstance(modalities, list) and info.supports_vision is None:
            info.supports_vision = "image" in modalities
        return info

    def listing_prices(self, item: dict[str, Any], ctx: ProviderContext) -> dict[str, Price]:
        price = price_from_listing(item, _PRICE_FIELDS, scale=_UNIT,
                                   source=self.url(ctx, self.models_path))
        return {item["id"]: price} if price is not None else {}


# Novita documents no batch size for /openai/v1/embeddings: a conservative 64.
embed_limits = EmbedLimits(batch=64)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Novita()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
