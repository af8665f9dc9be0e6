"""The Anthropic API front-end: URLs, headers, auth, HTTP and error mapping.

The body and stream formats live in :mod:`plugbay_anthropic.codec`; this module
only moves them over ``provider.http``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error, rate_limits
from plugbay.pricing import PriceTable
from plugbay.types import Completion, Health, ModelInfo, Price, Request, StreamEvent
from plugbay_anthropic import codec
from plugbay_anthropic.streaming import aiter_events

__all__ = ["complete", "health", "list_models", "map_error", "price", "stream"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
KEY_ENV = ("ANTHROPIC_API_KEY",)
FALLBACK_MAX_TOKENS = 4096
_MAX_PAGES = 50  # a listing that never ends is a server bug, not a reason to hang

def table() -> PriceTable:
    return PriceTable.for_package(__package__ or "plugbay_anthropic")


def headers(ctx: ProviderContext) -> dict[str, str]:
    cached = ctx.state.get("headers")
    if cached is None:
        cached = {"x-api-key": ctx.api_key(*KEY_ENV) or "",
                  "anthropic-version": ctx.setting("version") or API_VERSION}
        beta = ctx.option("beta") or ctx.setting("beta")
        if beta:
            cached["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(beta)
        ctx.state["headers"] = cached
    return dict(cached)


def url(ctx: ProviderContext, path: str) -> str:
    return f"{ctx.base_url(DEFAULT_BASE_URL)}{path}"


def body(request: Request, *, stream: bool) -> dict[str, Any]:
    row = table().row(request.model) or {}
    return codec.build_body(
        request, stream=stream,
        default_max_tokens=int(row.get("default_max_tokens") or FALLBACK_MAX_TOKENS),
        thinking=str(row.get("thinking") or "enabled"))


def map_error(status: int, hdrs: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    data: Any = raw
    if isinstance(raw, (bytes, str)):
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw
    message, etype = codec.error_info(data)
    cls = codec.error_class(status, etype, message, data)
    exc = api_error(status, hdrs, message, provider=ctx.name, body=data, cls=cls, code=etype,
                    retryable=False if cls is errors.QuotaExceededError else None,
                    secrets=ctx.secrets())
    if exc.request_id is None and isinstance(data, dict):
        exc.request_id = data.get("request_id")
    return exc



# ------------------------------------------------------------------ hooks


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    response = await provider.http.request("POST", url(provider, "/v1/messages"),
                                           headers=headers(provider),
                                           json=body(request, stream=False))
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    if data.get("type") == "error":
        raise map_error(500, response.headers, data, provider)
    result = codec.to_completion(data, provider=provider.name, model=request.model)
    limits = rate_limits(response.headers)
    if limits:
        result.extra["rate_limits"] = provider.state["rate_limits"] = limits
    return result


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    async with provider.http.stream("POST", url(provider, "/v1/messages"),
                                    headers=headers(provider),
                                    json=body(request, stream=True)) as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        limits = rate_limits(response.headers)
        if limits:
            provider.state["rate_limits"] = limits
        try:
            async for event in aiter_events(response.aiter_bytes()):
                yield event
        except errors.APIError as exc:
            if exc.provider is None:
                exc.provider = provider.name
            exc.message = errors.redact(exc.message, provider.secrets())
            exc.body = errors.redact(exc.body, provider.secrets())
            raise


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    found: dict[str, ModelInfo] = {}
    if provider.api_key(*KEY_ENV, required=False) is not None:
        after: str | None = None
        for _ in range(_MAX_PAGES):
            response = await provider.http.request(
                "GET", url(provider, "/v1/models"), headers=headers(provider),
                params={"limit": 1000, "after_id": after}, timeout=30.0)
            if response.status >= 400:
                raise map_error(response.status, response.headers, response.content, provider)
            page = response.json() or {}
            for item in page.get("data") or ():
                if isinstance(item, dict) and item.get("id"):
                    found.setdefault(item["id"], _info(item, provider.name))
            last = page.get("last_id")
            if not page.get("has_more") or not last or last == after:
                break
            after = last
    for info in table().model_infos(provider.name):
        found.setdefault(info.id, info)
    return list(found.values())


def _info(item: dict[str, Any], provider: str) -> ModelInfo:
    info = table().info(item["id"], provider)
    info.display_name = item.get("display_name") or info.display_name
    info.context_window = item.get("max_input_tokens") or info.context_window
    info.max_output_tokens = item.get("max_tokens") or info.max_output_tokens
    caps = item.get("capabilities")
    if isinstance(caps, dict) and isinstance(caps.get("image_input"), dict):
        info.supports_vision = bool(caps["image_input"].get("supported"))
    return info


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    return table().price(model)


@hookimpl
async def health(provider: ProviderContext) -> Health:
    return await probe(provider, lambda: provider.http.request(
        "GET", url(provider, "/v1/models"), headers=headers(provider), params={"limit": 1},
        timeout=10.0), map_error)
