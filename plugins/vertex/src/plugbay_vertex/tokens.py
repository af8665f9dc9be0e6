"""Vertex AI's token counters, free and exact, for both publishers.

Gemini: ``POST .../publishers/google/models/{model}:countTokens`` with the request's
``contents``, ``systemInstruction`` and ``tools`` at the top level (Vertex's
``CountTokensRequest``; unlike the Gemini API, no ``generateContentRequest`` wrapper),
answering ``{"totalTokens", "totalBillableCharacters"?}``. Claude:
``POST .../publishers/anthropic/models/count-tokens:rawPredict`` with Anthropic's
count_tokens body, the model named in the body, answering ``{"input_tokens"}``.
"""

from __future__ import annotations

from plugbay_anthropic.tokens import COUNTED

from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.tokens import TokenCount, provider_count
from plugbay.types import Request
from plugbay_vertex.provider import (
    claude_body,
    endpoint,
    gemini_body,
    headers,
    map_error,
    model_url,
    route,
)

__all__ = ["count_tokens"]

# the fields of a generateContent body that Vertex's CountTokensRequest takes
GEMINI_COUNTED = ("contents", "systemInstruction", "tools")


@hookimpl
async def count_tokens(request: Request, provider: ProviderContext) -> TokenCount:
    publisher, model = route(request.model)
    if publisher == "anthropic":
        full = claude_body(request, model, stream=False)
        body = {"model": model, "anthropic_version": full["anthropic_version"],
                **{k: full[k] for k in COUNTED if k in full}}
        url = f"{await endpoint(provider)}/publishers/anthropic/models/count-tokens:rawPredict"
        field = "input_tokens"
    else:
        full = gemini_body(request, provider, model)
        body = {k: full[k] for k in GEMINI_COUNTED if k in full}
        url = await model_url(provider, publisher, model, "countTokens")
        field = "totalTokens"
    response = await provider.http.request("POST", url, headers=await headers(provider),
                                           json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    return provider_count(response.json_object(), field, provider.name)
