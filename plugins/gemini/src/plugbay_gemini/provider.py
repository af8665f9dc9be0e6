"""The Gemini API (Google AI Studio) front-end: URLs, API-key auth, HTTP, error mapping.

The body, response and stream formats live in :mod:`plugbay_gemini.codec` and are
shared with the Vertex AI plugin; this module only moves them over ``provider.http``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error, rate_limits
from plugbay.pricing import PriceTable
from plugbay.types import Completion, Health, ModelInfo, Price, Request, StreamEvent
from plugbay_gemini import codec
from plugbay_gemini.streaming import aiter_events

__all__ = ["complete", "health", "list_models", "map_error", "price", "stream"]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_MAX_PAGES = 50

def table() -> PriceTable:
    return PriceTable.for_package(__package__ or "plugbay_gemini")


def headers(ctx: ProviderContext) -> dict[str, str]:
    cached = ctx.state.get("headers")
    if cached is None:  # a header, never ?key=: URLs end up in logs
        cached = ctx.state["headers"] = {"x-goog-api-key": ctx.api_key(*KEY_ENV) or ""}
    return dict(cached)


def url(ctx: ProviderContext, path: str) -> str:
    return f"{ctx.base_url(DEFAULT_BASE_URL)}{path}"


def model_path(model: str, method: str) -> str:
    return f"/models/{quote(model.removeprefix('models/'), safe='-._~')}:{method}"


def map_error(status: int, hdrs: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    data: Any = raw
    if isinstance(raw, (bytes, str)):
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw
    message, rpc_status, delay = codec.error_info(data)
    exc = api_error(status, hdrs, message, provider=ctx.name, body=data, code=rpc_status,
                    cls=codec.error_class(status, rpc_status, message, data),
                    secrets=ctx.secrets())
    if delay is not None and exc.retry_after is None:
        exc.retry_after = delay  # Google puts the wait in the body, not in Retry-After
    return exc


def _raise_chunk_error(data: Any, ctx: ProviderContext) -> None:
    failure = codec.chunk_error(data)
    if failure is not None:
        raise _stamped(failure, ctx)


def _stamped(exc: errors.APIError, ctx: ProviderContext) -> errors.APIError:
    if exc.provider is None:
        exc.provider = ctx.name
    exc.message = errors.redact(exc.message, ctx.secrets())
    exc.body = errors.redact(exc.body, ctx.secrets())
    return exc



# ------------------------------------------------------------------ hooks


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    response = await provider.http.request(
        "POST", url(provider, model_path(request.model, "generateContent")),
        headers=headers(provider), json=codec.build_body(request))
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    _raise_chunk_error(data, provider)
    result = codec.to_completion(data, provider=provider.name, model=request.model)
    limits = rate_limits(response.headers)
    if limits:
        result.extra["rate_limits"] = limits
    return result


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    path = model_path(request.model, "streamGenerateContent")
    async with provider.http.stream("POST", url(provider, path), params={"alt": "sse"},
                                    headers=headers(provider),
                                    json=codec.build_body(request, stream=True)) as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        # alt=sse gives SSE; a server that ignores it sends the JSON-array framing.
        array = "json" in response.headers.get("content-type", "")
        try:
            async for event in aiter_events(response.aiter_bytes(), json_array=array):
                yield event
        except errors.APIError as exc:
            raise _stamped(exc, provider) from None


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    found: dict[str, ModelInfo] = {}
    if provider.api_key(*KEY_ENV, required=False) is not None:
        token: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            response = await provider.http.request(
                "GET", url(provider, "/models"), headers=headers(provider),
                params={"pageSize": 1000, "pageToken": token}, timeout=30.0)
            if response.status >= 400:
                raise map_error(response.status, response.headers, response.content, provider)
            page = response.json() or {}
            for item in page.get("models") or ():
                info = _info(item, provider.name) if isinstance(item, dict) else None
                if info is not None:
                    found.setdefault(info.id, info)
            token = page.get("nextPageToken")
            if not token or token in seen:  # a repeated token would loop forever
                break
            seen.add(token)
    for info in table().model_infos(provider.name):
        found.setdefault(info.id, info)
    return list(found.values())


def _info(item: dict[str, Any], provider: str) -> ModelInfo | None:
    model_id = str(item.get("name") or "").removeprefix("models/")
    methods = item.get("supportedGenerationMethods")
    if not model_id or (methods is not None and "generateContent" not in methods):
        return None  # embeddings, Imagen, Veo: not chat models
    info = table().info(model_id, provider)
    info.display_name = item.get("displayName") or info.display_name
    info.context_window = item.get("inputTokenLimit") or info.context_window
    info.max_output_tokens = item.get("outputTokenLimit") or info.max_output_tokens
    if item.get("thinking") is not None and info.supports_reasoning is None:
        info.supports_reasoning = bool(item["thinking"])
    if item.get("version"):
        info.extra["version"] = item["version"]
    return info


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    return table().price(model.removeprefix("models/"))


@hookimpl
async def health(provider: ProviderContext) -> Health:
    return await probe(provider, lambda: provider.http.request(
        "GET", url(provider, "/models"), headers=headers(provider), params={"pageSize": 1},
        timeout=10.0), map_error)
