"""Together AI for plugbay: OpenAI-compatible serverless inference with a priced catalogue."""

from __future__ import annotations

from typing import Any

from plugbay.context import ProviderContext
from plugbay.embeddings import EmbedLimits
from plugbay.openai_compat import OpenAICompatible
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.openai_compat.provider import price_from_listing
from plugbay.types import ModelInfo, Price


class Together(OpenAIEmbeddings, OpenAICompatible):
    name = "together"
    default_base_url = "https://api.together.xyz/v1"
    price_package = __name__

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        info.display_name = info.display_name or item.get("display_name")
        if item.get("type"):
            info.extra["type"] = item["type"]  # chat, language, code, image, embedding, ...
        return info

    def listing_prices(self, item: dict[str, Any], ctx: ProviderContext) -> dict[str, Price]:
        # Together's /models is a bare array; pricing is USD per million tokens.
        price = price_from_listing(item.get("pricing"), {"input": "input", "output": "output"},
                                   source=self.url(ctx, self.models_path))
        if price is None:
            return {}
        # 0/0 marks models without serverless token pricing (dedicated-only), not free ones.
        if not price.input and not price.output and "free" not in item["id"].lower():
            return {}
        return {item["id"]: price}


# Together documents no batch size for /v1/embeddings: a conservative 64 (set embed_batch
# under [providers.together] to change it); each model's own input limit is Together's call.
embed_limits = EmbedLimits(batch=64)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Together()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
