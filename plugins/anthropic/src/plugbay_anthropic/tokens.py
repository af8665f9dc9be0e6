"""Anthropic's token counter: ``POST /v1/messages/count_tokens`` (free, rate-limited
separately), with the same messages, system prompt, tools and thinking as a call."""

from __future__ import annotations

from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.tokens import TokenCount, provider_count
from plugbay.types import Request
from plugbay_anthropic.provider import body, headers, map_error, url

__all__ = ["COUNTED", "count_tokens"]

# what the counting endpoint takes of a Messages body (it refuses max_tokens, stream...)
COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking")


@hookimpl
async def count_tokens(request: Request, provider: ProviderContext) -> TokenCount:
    full = body(request, stream=False)
    response = await provider.http.request(
        "POST", url(provider, "/v1/messages/count_tokens"), headers=headers(provider),
        json={k: full[k] for k in COUNTED if k in full})
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    return provider_count(response.json_object(), "input_tokens", provider.name)
