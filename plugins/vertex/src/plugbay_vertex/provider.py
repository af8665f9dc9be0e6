"""Vertex AI front-end: project/location URLs, Google OAuth2 auth, and two publishers.

Gemini models go to ``publishers/google/models/{m}:generateContent`` (and
``:streamGenerateContent?alt=sse``) with the Gemini plugin's codec; Claude models
(``claude-*`` or ``anthropic/...``) go to ``publishers/anthropic/models/{m}:rawPredict``
(and ``:streamRawPredict``) with the Anthropic plugin's codec, the body carrying
``anthropic_version`` instead of ``model``. Nothing of either format is re-implemented.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from plugbay_anthropic import codec as claude
from plugbay_anthropic import provider as anthropic_api
from plugbay_anthropic.streaming import aiter_events as claude_events
from plugbay_gemini import codec as gemini
from plugbay_gemini import provider as gemini_api
from plugbay_gemini.streaming import aiter_events as gemini_events

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.pricing import PriceTable
from plugbay.types import Completion, Health, ModelInfo, Price, Request, StreamEvent
from plugbay_vertex.credentials import GoogleToken

__all__ = ["ANTHROPIC_VERSION", "complete", "endpoint", "health", "list_models", "price",
           "route", "stream"]

ANTHROPIC_VERSION = "vertex-2023-10-16"
DEFAULT_LOCATION = "us-central1"  # google-cloud-aiplatform's default
PROJECT_ENV = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
LOCATION_ENV = ("GOOGLE_CLOUD_LOCATION", "GOOGLE_CLOUD_REGION", "CLOUD_ML_REGION")
HEALTH_MODEL = "gemini-2.5-flash"

def table() -> PriceTable:
    return PriceTable.for_package(__package__ or "plugbay_vertex")


# ------------------------------------------------------------------ routing


def route(model: str) -> tuple[str, str]:
    """(publisher, model id) for a plugbay model id."""
    publisher, sep, rest = model.partition("/")
    if sep and publisher in ("google", "anthropic"):
        return publisher, rest
    if model.startswith("claude-"):
        return "anthropic", model
    return "google", model


def base_id(model: str) -> str:
    """The table key: no publisher prefix, no ``@version`` pin (``claude-x@20250929``)."""
    return route(model)[1].split("@", 1)[0]


def token(ctx: ProviderContext) -> GoogleToken:
    cached = ctx.state.get("token")
    if cached is None:
        source = (ctx.option("credentials") or ctx.option("credentials_file")
                  or ctx.option("service_account_file")
                  or ctx.env.get("GOOGLE_APPLICATION_CREDENTIALS") or None)
        cached = ctx.state["token"] = GoogleToken(
            source, provider=ctx.name, token_uri=ctx.setting("token_uri"))
    return cached  # type: ignore[no-any-return]


def location(ctx: ProviderContext) -> str:
    return ctx.setting("location", *LOCATION_ENV, default=DEFAULT_LOCATION) or DEFAULT_LOCATION


def host(ctx: ProviderContext) -> str:
    """The regional host, or the one global host for location ``global``."""
    loc = location(ctx)
    default = ("https://aiplatform.googleapis.com" if loc == "global"
               else f"https://{loc}-aiplatform.googleapis.com")
    return ctx.base_url(default)


async def endpoint(ctx: ProviderContext) -> str:
    """``{host}/v1/projects/{project}/locations/{location}``; the project may come from ADC."""
    cached = ctx.state.get("endpoint")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    project = ctx.setting("project", *PROJECT_ENV)
    if not project:
        await token(ctx).load()
        project = token(ctx).project
    if not project:
        raise errors.ConfigError(
            "no Google Cloud project: set GOOGLE_CLOUD_PROJECT or `project`, or use "
            "credentials that name one", key=f"providers.{ctx.name}.project")
    version = ctx.setting("api_version", default="v1")
    cached = ctx.state["endpoint"] = (f"{host(ctx)}/{version}/projects/{quote(project)}"
                                      f"/locations/{quote(location(ctx))}")
    return cached


async def model_url(ctx: ProviderContext, publisher: str, model: str, method: str) -> str:
    return f"{await endpoint(ctx)}/publishers/{publisher}/models/{quote(model, safe='@.-_')}" \
           f":{method}"


async def headers(ctx: ProviderContext) -> dict[str, str]:
    return await token(ctx).headers()


def secrets(ctx: ProviderContext) -> list[str]:
    current = token(ctx).token if "token" in ctx.state else None
    return [*ctx.secrets(), *([current] if current else [])]


# ------------------------------------------------------------------ errors


def _parsed(raw: Any) -> Any:
    if isinstance(raw, (bytes, str)):
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw
    return raw


def map_error(status: int, hdrs: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    """Claude answers in Anthropic's error shape; Vertex itself (auth, quota, routing)
    in the google.rpc shape. Either way the token is redacted."""
    data = _parsed(raw)
    anthropic_shape = isinstance(data, dict) and data.get("type") == "error"
    mapper = anthropic_api.map_error if anthropic_shape else gemini_api.map_error
    exc = mapper(status, hdrs, data if data is not None else raw, ctx)
    return _stamped(exc, ctx)


def _stamped(exc: errors.APIError, ctx: ProviderContext) -> errors.APIError:
    if exc.provider is None:
        exc.provider = ctx.name
    exc.message = errors.redact(exc.message, secrets(ctx))
    exc.body = errors.redact(exc.body, secrets(ctx))
    return exc



# ------------------------------------------------------------------ bodies


def gemini_body(request: Request, ctx: ProviderContext, model: str, *,
                stream: bool = False) -> dict[str, Any]:
    return gemini.build_body(request.model_copy(update={"model": model}), stream=stream,
                             json_schema_fields=bool(ctx.option("json_schema_fields", True)))


def claude_body(request: Request, model: str, *, stream: bool) -> dict[str, Any]:
    # The Anthropic plugin's own table knows each model's defaults (max tokens, thinking).
    row = anthropic_api.table().row(model.split("@", 1)[0]) or {}
    body = claude.build_body(
        request, stream=stream, include_model=False,
        default_max_tokens=int(row.get("default_max_tokens")
                               or anthropic_api.FALLBACK_MAX_TOKENS),
        thinking=str(row.get("thinking") or "enabled"))
    body["anthropic_version"] = ANTHROPIC_VERSION
    return body


# ------------------------------------------------------------------ hooks


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    publisher, model = route(request.model)
    method = "rawPredict" if publisher == "anthropic" else "generateContent"
    body = (claude_body(request, model, stream=False) if publisher == "anthropic"
            else gemini_body(request, provider, model))
    url = await model_url(provider, publisher, model, method)
    response = await provider.http.request("POST", url, headers=await headers(provider),
                                           json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    if publisher == "anthropic":
        if data.get("type") == "error":
            raise map_error(500, response.headers, data, provider)
        return claude.to_completion(data, provider=provider.name, model=request.model)
    failure = gemini.chunk_error(data)
    if failure is not None:
        raise _stamped(failure, provider)
    return gemini.to_completion(data, provider=provider.name, model=request.model)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    publisher, model = route(request.model)
    if publisher == "anthropic":
        body = claude_body(request, model, stream=True)
        url = await model_url(provider, publisher, model, "streamRawPredict")
        params: dict[str, str] = {}
    else:
        body = gemini_body(request, provider, model, stream=True)
        url = await model_url(provider, publisher, model, "streamGenerateContent")
        params = {"alt": "sse"}
    async with provider.http.stream("POST", url, params=params, headers=await headers(provider),
                                    json=body) as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        if publisher == "anthropic":
            events = claude_events(response.aiter_bytes())
        else:  # alt=sse gives SSE; a server that ignores it sends the JSON-array framing
            array = "json" in response.headers.get("content-type", "")
            events = gemini_events(response.aiter_bytes(), json_array=array)
        try:
            async for event in events:
                yield event
        except errors.APIError as exc:
            raise _stamped(exc, provider) from None


@hookimpl
def list_models(provider: ProviderContext) -> list[ModelInfo]:
    return table().model_infos(provider.name)


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    base = base_id(model)
    found = table().price(base)
    row = table().row(base) or {}
    uplift = row.get("regional_uplift")
    if found is None or not uplift or location(provider) == "global":
        return found
    factor = float(uplift)  # partner models cost more on regional endpoints
    return found.model_copy(update={
        k: round(v * factor, 6) for k in ("input", "output", "cached_input", "cache_write")
        if (v := getattr(found, k)) is not None})


@hookimpl
async def health(provider: ProviderContext) -> Health:
    """A token refresh, then a cheap authenticated GET of one publisher model."""
    started = time.perf_counter()
    try:
        hdrs = await headers(provider)
        await endpoint(provider)
    except errors.PlugbayError as exc:
        return Health(provider=provider.name, status="down", detail=str(exc),
                      latency=time.perf_counter() - started)
    version = provider.setting("api_version", default="v1")
    model = provider.setting("health_model", default=HEALTH_MODEL)
    url = f"{host(provider)}/{version}/publishers/google/models/{model}"
    return await probe(provider, lambda: provider.http.request(
        "GET", url, headers=hdrs, timeout=10.0), map_error)
