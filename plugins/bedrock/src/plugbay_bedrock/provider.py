"""The Bedrock front-end: URLs, signing, HTTP, error mapping, models, prices, health.

Runtime calls go to ``https://bedrock-runtime.{region}.amazonaws.com`` (Converse and
ConverseStream), listings to the control plane ``https://bedrock.{region}.amazonaws.com``.
Both are signed per request (see :mod:`plugbay_bedrock.auth`) and sent over
``provider.http``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedRequest
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error
from plugbay.http.models import HTTPResponse
from plugbay.pricing import PriceTable
from plugbay.tokens import TokenCount, provider_count
from plugbay.types import Completion, Health, ModelInfo, Price, Request, StreamEvent
from plugbay_bedrock import codec
from plugbay_bedrock.auth import AwsAuth, auth_for, region_hint
from plugbay_bedrock.embed_codec import build_embed_body, parse_embed_response
from plugbay_bedrock.streaming import aiter_events

__all__ = ["COUNTED", "base_model", "complete", "count_tokens", "embed", "health",
           "list_models", "map_error", "price", "stream"]

RUNTIME_URL = "https://bedrock-runtime.{region}.amazonaws.com"
CONTROL_URL = "https://bedrock.{region}.amazonaws.com"
_GEO = re.compile(r"^(us|eu|apac|ap|global|us-gov|ca|jp|au)\.")
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[\w-]*:\d*:(?:[\w-]+)/(.+)$")
_MAX_PAGES = 20
# CountTokens' ConverseTokensRequest: the Converse fields that make the prompt
COUNTED = ("messages", "system", "toolConfig", "additionalModelRequestFields")
# its ValidationException for a model without a counter (Nova, some Claude profiles)
_NO_COUNT = re.compile(r"(doesn.t|does not) support count", re.IGNORECASE)
_RATES = ("input", "output", "cached_input", "cache_write", "reasoning")

def table() -> PriceTable:
    return PriceTable.for_package(__package__ or "plugbay_bedrock")


def base_model(model: str) -> str:
    """``us.anthropic.claude-x-v1:0`` or a profile/model ARN -> ``anthropic.claude-x-v1:0``."""
    arn = _ARN.match(model)
    if arn:
        model = arn.group(1)
    return _GEO.sub("", model, count=1)


def _region(ctx: ProviderContext, auth: AwsAuth) -> str:
    region = auth.region or region_hint(ctx)
    if not region:
        raise errors.ConfigError(
            "no AWS region: set `region`, AWS_REGION or a region in the AWS profile",
            key=f"providers.{ctx.name}.region")
    return region


def runtime_url(ctx: ProviderContext, auth: AwsAuth) -> str:
    base = ctx.setting("base_url", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL")
    return (base or RUNTIME_URL.format(region=_region(ctx, auth))).rstrip("/")


def control_url(ctx: ProviderContext, auth: AwsAuth) -> str:
    base = ctx.setting("control_base_url", "AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL")
    return (base or CONTROL_URL.format(region=_region(ctx, auth))).rstrip("/")


def signing_region(ctx: ProviderContext, auth: AwsAuth) -> str:
    # A base URL override may stand in for the region when only a bearer token is used.
    if auth.bearer:
        return auth.region or region_hint(ctx) or "us-east-1"
    return _region(ctx, auth)


def secrets(ctx: ProviderContext) -> list[str]:
    auth = ctx.state.get("aws_auth")
    return ctx.secrets() + (auth.secrets() if isinstance(auth, AwsAuth) else [])


def map_error(status: int, headers: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    data: Any = raw
    if isinstance(raw, (bytes, str)):
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    etype = codec.error_type(headers.get("x-amzn-errortype"))
    if etype is None and isinstance(data, Mapping):
        etype = codec.error_type(data.get("__type") or data.get("code"))
    message = codec.error_info(data)
    cls = codec.error_class(etype, status, message)
    if cls is errors.StreamError:
        cls = errors.ProviderError  # before the stream opened it is a plain failure
    return api_error(status, headers, message, provider=ctx.name, body=data, cls=cls,
                     code=etype, secrets=secrets(ctx))


async def _send(ctx: ProviderContext, method: str, url: str, body: bytes | None,
                accept: str, *, stream: bool = False, timeout: float | None = None) -> Any:
    auth = await auth_for(ctx)
    hdrs = {"Accept": accept}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    signed = await auth.sign(method, url, body, hdrs, region=signing_region(ctx, auth))
    if stream:
        return ctx.http.stream(method, url, headers=signed, content=body, timeout=timeout)
    return await ctx.http.request(method, url, headers=signed, content=body, timeout=timeout)


def _model_path(model: str) -> str:
    # Labels are percent-encoded whole, ':' and '/' (ARNs) included, as botocore does.
    return "/model/" + quote(model, safe="-._~")


def _converse(request: Request, ctx: ProviderContext) -> dict[str, Any]:
    try:
        return codec.build_body(request)
    except errors.APIError as exc:  # a request Converse cannot express (http image URL...)
        exc.provider = ctx.name
        raise


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _encode(request: Request, ctx: ProviderContext) -> bytes:
    return _json(_converse(request, ctx))



def _request_id(response: HTTPResponse) -> str | None:
    return response.headers.get("x-amzn-requestid")


def _stamp(exc: errors.APIError, ctx: ProviderContext, request_id: str | None) -> None:
    if exc.provider is None:
        exc.provider = ctx.name
    if exc.request_id is None:
        exc.request_id = request_id
    exc.message = errors.redact(exc.message, secrets(ctx))
    exc.body = errors.redact(exc.body, secrets(ctx))


# ------------------------------------------------------------------ hooks


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    body = _encode(request, provider)
    auth = await auth_for(provider)
    url = runtime_url(provider, auth) + _model_path(request.model) + "/converse"
    response = await _send(provider, "POST", url, body, "application/json")
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    return codec.to_completion(response.json(), provider=provider.name,
                               model=request.model, request_id=_request_id(response))


@hookimpl
async def embed(request: EmbedRequest, provider: ProviderContext) -> Embeddings:
    """Titan and Cohere embedding models through ``InvokeModel`` (``embed_codec``)."""
    model = base_model(request.model)
    body = json.dumps(build_embed_body(request, model, provider.name),
                      separators=(",", ":"), ensure_ascii=False).encode()
    auth = await auth_for(provider)
    url = runtime_url(provider, auth) + _model_path(request.model) + "/invoke"
    response = await _send(provider, "POST", url, body, "application/json")
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    result = parse_embed_response(response.json(), response.headers, request, model,
                                  provider.name)
    request_id = _request_id(response)
    if request_id:
        result.extra["request_id"] = request_id
    return result


@hookimpl
async def count_tokens(request: Request, provider: ProviderContext) -> TokenCount | None:
    """``CountTokens``: ``POST /model/{id}/count-tokens`` with ``{"input": {"converse":
    ...}}`` (the Converse fields that make the prompt) -> ``{"inputTokens"}``. It takes
    bare model ids, not inference profiles; a model it cannot count gets the estimate."""
    converse = {k: v for k, v in _converse(request, provider).items() if k in COUNTED}
    auth = await auth_for(provider)
    url = runtime_url(provider, auth) + _model_path(base_model(request.model)) + "/count-tokens"
    response = await _send(provider, "POST", url, _json({"input": {"converse": converse}}),
                           "application/json")
    if response.status >= 400:
        exc = map_error(response.status, response.headers, response.content, provider)
        if isinstance(exc, errors.InvalidRequestError) and _NO_COUNT.search(exc.message):
            return None
        raise exc
    return provider_count(response.json_object(), "inputTokens", provider.name)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    body = _encode(request, provider)
    auth = await auth_for(provider)
    url = runtime_url(provider, auth) + _model_path(request.model) + "/converse-stream"
    opened = await _send(provider, "POST", url, body, "application/vnd.amazon.eventstream",
                         stream=True)
    async with opened as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        try:
            async for event in aiter_events(response.aiter_bytes()):
                yield event
        except errors.APIError as exc:
            _stamp(exc, provider, _request_id(response))
            raise


async def _get(ctx: ProviderContext, path: str, params: dict[str, Any] | None = None,
               timeout: float = 30.0) -> HTTPResponse:
    auth = await auth_for(ctx)
    url = control_url(ctx, auth) + path
    if params:
        # Sign the exact query we send: botocore canonicalises what is in the URL.
        url += "?" + "&".join(f"{quote(k, safe='-._~')}={quote(str(v), safe='-._~')}"
                              for k, v in sorted(params.items()) if v is not None)
    response: HTTPResponse = await _send(ctx, "GET", url, None, "application/json",
                                         timeout=timeout)
    return response


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    found: dict[str, ModelInfo] = {}
    response = await _get(provider, "/foundation-models")
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    for item in (response.json() or {}).get("modelSummaries") or ():
        if isinstance(item, dict) and item.get("modelId"):
            found.setdefault(item["modelId"], _info(item, provider.name))
    for profile in await _profiles(provider):
        found.setdefault(profile.id, profile)
    for info in table().model_infos(provider.name):
        found.setdefault(info.id, info)
    return list(found.values())


async def _profiles(ctx: ProviderContext) -> list[ModelInfo]:
    """System-defined inference profiles (``us.``/``eu.``/``global.`` ids); best effort:
    a role allowed to list models but not profiles still gets the models."""
    out: list[ModelInfo] = []
    token: str | None = None
    for _ in range(_MAX_PAGES):
        response = await _get(ctx, "/inference-profiles",
                              {"maxResults": 1000, "nextToken": token})
        if response.status >= 400:
            if response.status in (401, 403):
                return out
            raise map_error(response.status, response.headers, response.content, ctx)
        page = response.json() or {}
        for item in page.get("inferenceProfileSummaries") or ():
            pid = item.get("inferenceProfileId") if isinstance(item, dict) else None
            if pid:
                info = table().info(base_model(pid), ctx.name)
                info.id = pid
                info.display_name = item.get("inferenceProfileName") or info.display_name
                info.extra = {"inference_profile": True, "type": item.get("type"),
                              "status": item.get("status")}
                out.append(info)
        token = page.get("nextToken")
        if not token:
            break
    return out


def _info(item: dict[str, Any], provider: str) -> ModelInfo:
    info = table().info(item["modelId"], provider)
    info.display_name = item.get("modelName") or info.display_name
    if item.get("responseStreamingSupported") is not None:
        info.supports_streaming = bool(item["responseStreamingSupported"])
    inputs = item.get("inputModalities")
    if isinstance(inputs, list) and info.supports_vision is None:
        info.supports_vision = "IMAGE" in inputs
    info.extra = {k: item[k] for k in ("providerName", "inferenceTypesSupported",
                                       "modelLifecycle", "outputModalities") if k in item}
    return info


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    found = table().price(model)
    if found is not None:
        return found
    base = base_model(model)
    found = table().price(base)
    row = table().row(base) or {}
    markup = row.get("geo_markup")
    arn = _ARN.match(model)
    if found is None or not markup or (arn.group(1) if arn else model).startswith("global."):
        return found
    # Geographic profiles and in-region calls of these models cost more than global.
    rates = {k: None if v is None else round(v * float(markup), 6)
             for k, v in found.model_dump(include=set(_RATES)).items()}
    return found.model_copy(update=rates)


@hookimpl
async def health(provider: ProviderContext) -> Health:
    try:
        control_url(provider, await auth_for(provider))
    except errors.PlugbayError as exc:  # no credentials or region is "down", never a raise
        return Health(provider=provider.name, status="down", detail=str(exc))
    return await probe(provider, lambda: _get(provider, "/foundation-models",
                                              {"byOutputModality": "TEXT"}, timeout=10.0),
                       map_error)
