"""Any local OpenAI-compatible server for plugbay: vLLM, llama.cpp, LM Studio, Ollama ``/v1``.

The base URL is required (there is no sensible default host), the key optional. Models
come from the server's own ``/v1/models`` (vLLM's ``max_model_len`` becomes the context
window). Health prefers the server's ``/health`` (vLLM: 200 empty; llama.cpp: 200
``{"status":"ok"}`` or 503 while the model loads) and falls back to the model list where
the server has no such route (LM Studio, Ollama). Prices are unknown unless the instance
configures them (``[providers.local.prices."*"] input = 0 output = 0``).
"""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext, env_prefix
from plugbay.embeddings import EmbedLimits
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.models import HTTPResponse
from plugbay.openai_compat import OpenAICompatible
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.pricing import configured_price
from plugbay.types import Health, Price


class Local(OpenAIEmbeddings, OpenAICompatible):
    name = "local"
    default_base_url = ""
    key_required = False

    def url(self, ctx: ProviderContext, path: str) -> str:
        base = ctx.base_url("")
        if not base:
            raise errors.ConfigError(
                f"no base URL for provider {ctx.name!r}: set {env_prefix(ctx.name)}_BASE_URL "
                f"or base_url under [providers.{ctx.name}] in plugbay.toml "
                "(e.g. http://localhost:8000/v1 for vLLM, http://localhost:8080/v1 for "
                "llama.cpp, http://localhost:1234/v1 for LM Studio, "
                "http://localhost:11434/v1 for Ollama)",
                key=f"providers.{ctx.name}.base_url")
        return f"{base}{path}"

    def root(self, ctx: ProviderContext) -> str:
        """The server root: the base URL without its ``/v1`` (where ``/health`` lives)."""
        base = self.url(ctx, "")
        return base[:-3] if base.endswith("/v1") else base

    @hookimpl
    def price(self, model: str, provider: ProviderContext) -> Price | None:
        return configured_price(provider.options, model, provider=provider.name)

    @hookimpl
    async def health(self, provider: ProviderContext) -> Health:
        # llama.cpp answers 503 while it loads the model: probe reports that as degraded.
        async def send() -> HTTPResponse:
            response = await provider.http.request(
                "GET", f"{self.root(provider)}/health", headers=self.headers(provider),
                timeout=10.0)
            if response.status in (404, 405):  # no /health here: ask for the model list
                response = await provider.http.request(
                    "GET", self.url(provider, self.models_path),
                    headers=self.headers(provider), timeout=10.0)
            return response

        return await probe(provider, send, self.map_error)

    def completion_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        # llama.cpp reports its speed; keep it, it is what people tune local servers by.
        timings = data.get("timings")
        return {"timings": timings} if isinstance(timings, dict) else {}


# A local server's batch size is its own (vLLM takes any, llama.cpp its n_batch tokens):
# 32 a request unless [providers.local] embed_batch says otherwise.
embed_limits = EmbedLimits(batch=32)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Local()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
