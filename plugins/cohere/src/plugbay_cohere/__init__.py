"""Cohere (v2 Chat API) for plugbay: native protocol, billed-unit usage, citations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error, rate_limits
from plugbay.http.sse import SSEDecoder
from plugbay.pricing import PriceTable
from plugbay.types import (
    Completion,
    FinishEvent,
    Health,
    ModelInfo,
    Price,
    Request,
    StreamEvent,
    UsageEvent,
)
from plugbay_cohere import codec
from plugbay_cohere.embed_codec import build_embed_body, parse_embed_response

__all__ = ["complete", "embed", "health", "list_models", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)

DEFAULT_BASE_URL = "https://api.cohere.com"
KEY_ENV = ("COHERE_API_KEY", "CO_API_KEY")
MAX_MODEL_PAGES = 20  # a listing never loops forever on a server that repeats its token

def _prices() -> PriceTable:
    return PriceTable.for_package(__name__)


def _headers(ctx: ProviderContext) -> dict[str, str]:
    cached = ctx.state.get("headers")
    if cached is None:
        key = ctx.api_key(*KEY_ENV)
        cached = ctx.state["headers"] = {"Authorization": f"Bearer {key}",
                                         "Accept": "application/json"}
        client_name = ctx.option("client_name")
        if client_name:
            cached["X-Client-Name"] = str(client_name)
    return dict(cached)


def _url(ctx: ProviderContext, path: str) -> str:
    return f"{ctx.base_url(DEFAULT_BASE_URL)}{path}"


def map_error(status: int, headers: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    message, body_id, body = codec.parse_error(raw)
    if status == 499:
        # The request was cancelled (by the caller or Cohere). No class of the tree
        # means "cancelled"; ProviderError is the catch-all, and we mark it not
        # retryable so that retry loops do not resend a request someone called off.
        exc = api_error(status, headers, f"request was cancelled: {message}",
                        provider=ctx.name, body=body, cls=errors.ProviderError,
                        code="cancelled", retryable=False, secrets=ctx.secrets())
    else:
        exc = api_error(status, headers, message, provider=ctx.name, body=body,
                        cls=codec.error_class(status, message), secrets=ctx.secrets())
    if exc.request_id is None and isinstance(body_id, str):
        exc.request_id = body_id
    return exc



# /v2/embed takes at most 96 texts a request; embed-v4.0 reads 128k tokens an input, the
# v3 models 512 (Cohere's embed API reference and model cards, read 2026-12-04).
embed_limits = EmbedLimits(batch=96, max_input_tokens=512, models={
    "embed-v4": EmbedLimits(batch=96, max_input_tokens=128_000)})


@hookimpl
async def embed(request: EmbedRequest, provider: ProviderContext) -> Embeddings:
    response = await provider.http.request("POST", _url(provider, "/v2/embed"),
                                           headers=_headers(provider),
                                           json=build_embed_body(request))
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    result = parse_embed_response(response.json(), request, provider.name)
    limits = rate_limits(response.headers)
    if limits:
        result.extra["rate_limits"] = provider.state["rate_limits"] = limits
    return result


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    body = codec.build_body(request, stream=False)
    response = await provider.http.request("POST", _url(provider, "/v2/chat"),
                                           headers=_headers(provider), json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    if not isinstance(data.get("message"), dict):
        raise errors.malformed("response has no message", response.text,
                               provider=provider.name, status=response.status)
    fields = codec.parse_response(data)
    limits = rate_limits(response.headers)
    if limits:
        fields["extra"]["rate_limits"] = limits
    return Completion(model=request.model, provider=provider.name, **fields)


def _event_error(data: dict[str, Any], ctx: ProviderContext) -> errors.APIError:
    message, _, body = codec.parse_error(json.dumps(data))
    return errors.ProviderError(message, provider=ctx.name, body=body)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    body = codec.build_body(request, stream=True)
    headers = {**_headers(provider), "Accept": "text/event-stream"}
    state: dict[str, Any] = {}
    async with provider.http.stream("POST", _url(provider, "/v2/chat"), headers=headers,
                                    json=body) as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        decoder = SSEDecoder()
        text: list[str] = []
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                if event.data == "[DONE]":  # some gateways add it after message-end
                    continue
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise errors.StreamError(f"malformed JSON in stream: {event.data[:100]!r}",
                                             provider=provider.name,
                                             partial="".join(text)) from None
                if not isinstance(data, dict):
                    raise errors.malformed("stream event is not a JSON object", event.data,
                                           provider=provider.name)
                kind = data.get("type") or event.event
                if kind == "error" or ("type" not in data and "message" in data):
                    raise _event_error(data, provider)
                for item in codec.stream_events(kind, data, state):
                    if item.type == "text":
                        text.append(item.text)
                    yield item
                if state.get("done"):
                    break
            if state.get("done"):
                break
        if not state.get("done"):
            raise errors.StreamError("stream ended without its message-end event",
                                     provider=provider.name, partial="".join(text))
    usage = codec.parse_usage(state.get("usage"))
    if usage is not None:
        yield UsageEvent(usage=usage)
    raw = state.get("finish")
    reason = codec.finish_reason(raw) if raw else "tool_calls" if "calls" in state else "stop"
    yield FinishEvent(reason=reason, raw_reason=raw, extra=codec.usage_extra(state.get("usage")))


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    table = _prices()
    found: dict[str, ModelInfo] = {}
    token: str | None = None
    # Without a key the live listing cannot answer: the table's models still can.
    pages = MAX_MODEL_PAGES if provider.api_key(*KEY_ENV, required=False) else 0
    for _ in range(pages):
        params = {"endpoint": "chat", "page_size": 1000, "page_token": token}
        response = await provider.http.request("GET", _url(provider, "/v1/models"),
                                               headers=_headers(provider), params=params,
                                               timeout=30.0)
        if response.status >= 400:
            raise map_error(response.status, response.headers, response.content, provider)
        data = response.json() or {}
        for item in data.get("models") or ():
            if isinstance(item, dict) and item.get("name") and item["name"] not in found:
                base = table.info(item["name"], provider.name) if table.row(item["name"]) \
                    else None
                found[item["name"]] = codec.model_info(item, provider.name, base)
        next_token = data.get("next_page_token")
        if not next_token or next_token == token:
            break
        token = next_token
    for info in table.model_infos(provider.name):
        found.setdefault(info.id, info)
    return list(found.values())


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    return _prices().price(model)


@hookimpl
async def health(provider: ProviderContext) -> Health:
    return await probe(provider, lambda: provider.http.request(
        "GET", _url(provider, "/v1/models"), headers=_headers(provider),
        params={"page_size": 1}, timeout=10.0), map_error)
