"""Fireworks AI for plugbay: OpenAI-compatible serverless inference."""

from __future__ import annotations

from typing import Any

from plugbay.context import ProviderContext
from plugbay.embeddings import EmbedLimits
from plugbay.openai_compat import OpenAICompatible
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.types import ModelInfo

MODEL_PREFIX = "accounts/fireworks/models/"


class Fireworks(OpenAIEmbeddings, OpenAICompatible):
    name = "fireworks"
    default_base_url = "https://api.fireworks.ai/inference/v1"
    price_package = __name__

    def model_id(self, model: str) -> str:
        # Fireworks ids are account-scoped paths; a bare name means a Fireworks-hosted model.
        return model if "/" in model else MODEL_PREFIX + model

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        for flag, field in (("supports_tools", "supports_tools"),
                            ("supports_image_input", "supports_vision")):
            if isinstance(item.get(flag), bool) and getattr(info, field) is None:
                setattr(info, field, item[flag])
        if item.get("supports_chat") is False:
            info.extra["chat"] = False  # completion-only or embedding model
        return info


# Fireworks documents no batch size for /embeddings: a conservative 64 (embed_batch changes it).
embed_limits = EmbedLimits(batch=64)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Fireworks()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
