"""Gemini's token counter: ``models/{model}:countTokens`` with the whole
``generateContentRequest`` (so the system instruction and tools count too)."""

from __future__ import annotations

from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.tokens import TokenCount, provider_count
from plugbay.types import Request
from plugbay_gemini import codec
from plugbay_gemini.provider import headers, map_error, model_path, url

__all__ = ["count_tokens"]

# generation settings are not part of what countTokens takes
_NOT_COUNTED = ("generationConfig", "safetySettings")


@hookimpl
async def count_tokens(request: Request, provider: ProviderContext) -> TokenCount:
    inner = {k: v for k, v in codec.build_body(request).items() if k not in _NOT_COUNTED}
    inner["model"] = "models/" + request.model.removeprefix("models/")
    response = await provider.http.request(
        "POST", url(provider, model_path(request.model, "countTokens")),
        headers=headers(provider), json={"generateContentRequest": inner})
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    return provider_count(response.json_object(), "totalTokens", provider.name)
