"""Hugging Face Inference Providers for plugbay: one token, many providers, via the router."""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.hookspecs import hookimpl
from plugbay.openai_compat import OpenAICompatible, probe
from plugbay.openai_compat.provider import price_from_listing
from plugbay.types import Health, ModelInfo, Price

HUB_URL = "https://huggingface.co"


class HuggingFace(OpenAICompatible):
    """``model`` is sent untouched: ``org/name``, ``org/name:provider``, ``:fastest``,
    ``:cheapest`` are all the router's to interpret."""

    name = "huggingface"
    default_base_url = "https://router.huggingface.co/v1"
    api_key_env = ("HF_TOKEN",)  # besides HUGGINGFACE_API_KEY
    price_package = __name__

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        live = _live(item)
        if live:
            info.extra["providers"] = [p["provider"] for p in live]
            windows = [p["context_length"] for p in live if p.get("context_length")]
            info.context_window = info.context_window or (max(windows) if windows else None)
            tools = [p.get("supports_tools") for p in live]
            if info.supports_tools is None and any(isinstance(t, bool) for t in tools):
                info.supports_tools = any(t is True for t in tools)
        modalities = (item.get("architecture") or {}).get("input_modalities")
        if isinstance(modalities, list) and info.supports_vision is None:
            info.supports_vision = "image" in modalities
        return info

    def listing_prices(self, item: dict[str, Any], ctx: ProviderContext) -> dict[str, Price]:
        # Each live provider has its own USD-per-million price: key it as `model:provider`.
        # `:cheapest` is the lowest output price; a bare id or `:fastest` stays unpriced,
        # since which provider serves it is the router's choice.
        source = self.url(ctx, self.models_path)
        prices: dict[str, Price] = {}
        for entry in _live(item):
            price = price_from_listing(entry.get("pricing"), {"input": "input",
                                                             "output": "output"}, source=source)
            if price is not None:
                prices[f"{item['id']}:{entry['provider']}"] = price
        if prices:
            prices[f"{item['id']}:cheapest"] = min(prices.values(), key=lambda p: p.output or 0)
        return prices

    @hookimpl
    async def health(self, provider: ProviderContext) -> Health:
        # The router has no cheap authenticated GET; the Hub's whoami checks the same token.
        url = (provider.setting("hub_url") or HUB_URL).rstrip("/") + "/api/whoami-v2"
        return await probe(provider, lambda: provider.http.request(
            "GET", url, headers=self.headers(provider), timeout=10.0), self.map_error)

    @hookimpl
    async def embed(self, request: EmbedRequest, provider: ProviderContext) -> Embeddings:
        """The router's ``hf-inference`` feature-extraction pipeline: ``POST
        {router}/hf-inference/models/{model}/pipeline/feature-extraction`` with
        ``{"inputs": [...]}`` answers one float vector per input, in order (no usage: it
        bills compute time, so there is no per-token price)."""
        if request.encoding != "float" or request.dimensions is not None:
            raise errors.InvalidRequestError(
                "huggingface feature-extraction returns full-size float vectors only: drop "
                "dimensions and encoding", provider=provider.name)
        root = self.url(provider, "").removesuffix("/v1")
        url = f"{root}/hf-inference/models/{request.model}/pipeline/feature-extraction"
        response = await provider.http.request(
            "POST", url, headers=self.headers(provider),
            json={"inputs": request.inputs, **request.extra})
        if response.status >= 400:
            raise self.map_error(response.status, response.headers, response.content, provider)
        vectors = response.json()
        if (not isinstance(vectors, list) or len(vectors) != len(request.inputs)
                or not all(isinstance(v, list) and v and not isinstance(v[0], list)
                           for v in vectors)):
            raise errors.malformed(f"the answer is not {len(request.inputs)} vectors",
                                   response.text, provider=provider.name,
                                   status=response.status)
        return Embeddings.model_construct(
            vectors=vectors, model=request.model, provider=provider.name, usage=None,
            dimensions=len(vectors[0]) if vectors else None, encoding="float", latency=None,
            price=None, extra={}, trace=None)


def _live(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in item.get("providers") or () if isinstance(p, dict) and p.get("provider")
            and p.get("status", "live") == "live"]


# feature-extraction takes a list; 32 a request keeps one inside the router's time limit
# (set embed_batch under [providers.huggingface] to change it).
embed_limits = EmbedLimits(batch=32)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = HuggingFace()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
