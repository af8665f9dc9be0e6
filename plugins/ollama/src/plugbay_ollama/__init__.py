"""Ollama (native ``/api`` protocol) for plugbay: NDJSON streaming, tools, images, thinking."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error
from plugbay.http.sse import NDJSONDecoder
from plugbay.types import (
    Completion,
    FinishEvent,
    Health,
    ModelInfo,
    Price,
    Request,
    StreamEvent,
    Usage,
    UsageEvent,
)
from plugbay_ollama import codec

__all__ = ["base_url", "complete", "embed", "health", "list_models", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)

DEFAULT_BASE_URL = "http://localhost:11434"
DEFAULT_PORT = 11434
_PASS_OPTIONS = ("options", "keep_alive", "think")


def _from_ollama_host(value: str) -> str:
    """``OLLAMA_HOST`` as Ollama's own CLI reads it: a URL, ``host:port`` or a bare host."""
    value = value.strip().rstrip("/")
    scheme = "http"
    if "://" in value:
        scheme, value = value.split("://", 1)
    host, _, rest = value.partition("/")
    path = f"/{rest}" if rest else ""
    if host.startswith("["):  # [::1]:port
        name, _, port = host[1:].partition("]")
        name, port = f"[{name}]", port.lstrip(":")
    elif host.count(":") == 1:
        name, port = host.split(":")
    else:
        name, port = host, ""
    # A server bound to every interface is reached on the loopback one.
    if name in ("", "0.0.0.0", "[::]"):
        name = "127.0.0.1"
    if not port:
        port = "443" if scheme == "https" else str(DEFAULT_PORT)
    return f"{scheme}://{name}:{port}{path}"


def base_url(ctx: ProviderContext) -> str:
    """Config ``base_url``, ``<NAME>_BASE_URL``, ``OLLAMA_BASE_URL``, ``OLLAMA_HOST``, default."""
    cached = ctx.state.get("base_url")
    if cached is None:
        url = ctx.setting("base_url", "OLLAMA_BASE_URL")
        if not url and ctx.env.get("OLLAMA_HOST"):
            url = _from_ollama_host(ctx.env["OLLAMA_HOST"])
        cached = ctx.state["base_url"] = (url or DEFAULT_BASE_URL).rstrip("/")
    return str(cached)


def _headers(ctx: ProviderContext) -> dict[str, str]:
    cached = ctx.state.get("headers")
    if cached is None:
        key = ctx.api_key("OLLAMA_API_KEY", required=False)  # only Ollama cloud needs one
        cached = ctx.state["headers"] = {"Authorization": f"Bearer {key}"} if key else {}
    return dict(cached)


def map_error(status: int, headers: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    message, body = codec.parse_error(raw)
    return api_error(status, headers, message, provider=ctx.name, body=body,
                     cls=codec.error_class(status, message), secrets=ctx.secrets())


def line_error(line: dict[str, Any], ctx: ProviderContext, partial: str | None = None,
               ) -> errors.APIError:
    """An ``{"error": ...}`` line that arrived with HTTP 200 (mid-stream, or a 200 body)."""
    message, body = codec.parse_error(line)
    message = errors.redact(message, ctx.secrets())
    cls = codec.error_class(None, message) or errors.ProviderError
    if cls is errors.ProviderError and partial is not None:
        # The response had started: StreamError carries what arrived before the failure.
        return errors.StreamError(message, provider=ctx.name, body=body, partial=partial,
                                  code="stream_error")
    return cls(message, provider=ctx.name, body=body)


def _defaults(ctx: ProviderContext) -> dict[str, Any]:
    return {k: ctx.options[k] for k in _PASS_OPTIONS if ctx.options.get(k) is not None}


# POST /api/embed takes a list; the server batches it itself. 64 a request keeps one
# request short; [providers.ollama] embed_batch changes it.
embed_limits = EmbedLimits(batch=64)


@hookimpl
async def embed(request: EmbedRequest, provider: ProviderContext) -> Embeddings:
    """``POST /api/embed``: ``{model, input, dimensions?, truncate: false}`` answers
    ``{model, embeddings, prompt_eval_count}`` (vectors in input order, floats only).
    ``truncate`` is off, so an input too long is an error, never silently cut."""
    if request.encoding != "float":
        raise errors.InvalidRequestError(
            f"ollama returns float vectors only, not {request.encoding!r}",
            provider=provider.name)
    body: dict[str, Any] = {"model": request.model, "input": request.inputs,
                            "truncate": False, **_defaults(provider), **request.extra}
    body.pop("think", None)
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    response = await provider.http.request("POST", f"{base_url(provider)}/api/embed",
                                           headers=_headers(provider), json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    if data.get("error"):
        raise line_error(data, provider)
    vectors = data.get("embeddings")
    if not isinstance(vectors, list) or len(vectors) != len(request.inputs):
        raise errors.malformed(f"the answer has no {len(request.inputs)} embeddings",
                               response.text, provider=provider.name, status=response.status)
    tokens = data.get("prompt_eval_count")
    first = vectors[0] if vectors else None
    return Embeddings.model_construct(
        vectors=vectors, model=data.get("model") or request.model, provider=provider.name,
        usage=Usage(input_tokens=tokens) if isinstance(tokens, int) else None,
        dimensions=len(first) if isinstance(first, list) else None, encoding="float",
        latency=None, price=None, extra=codec.durations(data), trace=None)


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    body = codec.build_body(request, stream=False, defaults=_defaults(provider))
    response = await provider.http.request("POST", f"{base_url(provider)}/api/chat",
                                           headers=_headers(provider), json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    if data.get("error"):
        raise line_error(data, provider)
    if not isinstance(data.get("message"), dict):
        raise errors.malformed("response has no message", response.text,
                               provider=provider.name, status=response.status)
    text, thinking, calls = codec.parse_message(data)
    raw = data.get("done_reason")
    extra = codec.durations(data)
    if data.get("created_at"):
        extra["created_at"] = data["created_at"]
    return Completion(text=text, reasoning=thinking, tool_calls=calls,
                      finish_reason=codec.finish(raw, bool(calls)), raw_finish_reason=raw,
                      usage=codec.parse_usage(data), model=data.get("model") or request.model,
                      provider=provider.name, extra=extra)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    body = codec.build_body(request, stream=True, defaults=_defaults(provider))
    state: dict[str, Any] = {}
    text: list[str] = []
    async with provider.http.stream("POST", f"{base_url(provider)}/api/chat",
                                    headers=_headers(provider), json=body) as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        decoder = NDJSONDecoder()
        chunks = response.aiter_bytes()
        while "final" not in state:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            try:
                lines = decoder.feed(chunk)
            except ValueError:
                raise errors.StreamError("malformed NDJSON line in stream",
                                         provider=provider.name,
                                         partial="".join(text)) from None
            for line in lines:
                if not isinstance(line, dict):
                    raise errors.malformed("stream line is not a JSON object", line,
                                           provider=provider.name)
                if line.get("error"):
                    raise line_error(line, provider, "".join(text))
                for item in codec.stream_events(line, state):
                    if item.type == "text":
                        text.append(item.text)
                    yield item
                if "final" in state:
                    break
        if "final" not in state:
            try:  # a last line without its newline is still a whole line
                tail = decoder.close()
            except ValueError:
                tail = []
            for line in tail:
                if not isinstance(line, dict):
                    raise errors.malformed("stream line is not a JSON object", line,
                                           provider=provider.name)
                if line.get("error"):
                    raise line_error(line, provider, "".join(text))
                for item in codec.stream_events(line, state):
                    yield item
        if "final" not in state:
            raise errors.StreamError("stream ended without its final done line",
                                     provider=provider.name, partial="".join(text))
    final = state["final"]
    usage = codec.parse_usage(final)
    if usage is not None:
        yield UsageEvent(usage=usage)
    raw = final.get("done_reason")
    yield FinishEvent(reason=codec.finish(raw, state.get("calls", 0) > 0), raw_reason=raw)


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    response = await provider.http.request("GET", f"{base_url(provider)}/api/tags",
                                           headers=_headers(provider), timeout=30.0)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    try:
        data = response.json()
    except ValueError:
        raise errors.ProviderError(f"malformed model list: {response.text[:200]!r}",
                                   provider=provider.name, status=response.status) from None
    found: dict[str, ModelInfo] = {}
    for item in (data or {}).get("models") or ():
        if isinstance(item, dict) and (item.get("name") or item.get("model")):
            info = codec.model_info(item, provider.name)
            found.setdefault(info.id, info)
    return list(found.values())


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    """0 only when the user says the server is free; otherwise what they priced, or None."""
    prices = provider.options.get("prices")
    if isinstance(prices, Mapping):
        row = prices.get(model, prices.get("*"))
        if isinstance(row, Mapping) and row.get("input") is not None:
            return Price(input=float(row["input"]), output=float(row.get("output", 0.0)),
                         cached_input=row.get("cached_input"),
                         currency=str(row.get("currency", "USD")),
                         as_of=row.get("as_of") or dt.date.today(),
                         source=str(row.get("source", f"plugbay.toml providers.{provider.name}"
                                                      ".prices")))
    if provider.options.get("free") is True:
        return Price(input=0.0, output=0.0, as_of=dt.date.today(),
                     source=f"plugbay.toml providers.{provider.name}.free = true")
    return None


@hookimpl
async def health(provider: ProviderContext) -> Health:
    root = base_url(provider)
    headers = _headers(provider)
    started = time.perf_counter()
    try:
        response = await provider.http.request("GET", f"{root}/api/version", headers=headers,
                                               timeout=10.0)
    except errors.APIError as exc:
        return Health(provider=provider.name, status="down", detail=str(exc))
    latency = time.perf_counter() - started
    if response.status >= 400:
        failure = map_error(response.status, response.headers, response.content, provider)
        busy = isinstance(failure, (errors.RateLimitError, errors.OverloadedError))
        return Health(provider=provider.name, status="degraded" if busy else "down",
                      latency=latency, detail=str(failure))
    try:
        version = response.json().get("version")
    except (ValueError, AttributeError):
        version = None
    detail = f"ollama {version or 'unknown version'} at {root}"
    try:  # what is loaded is useful to know, but its absence is not an outage
        ps = await provider.http.request("GET", f"{root}/api/ps", headers=headers, timeout=5.0)
        if ps.status < 400:
            loaded = [m.get("name") or m.get("model") for m in ps.json().get("models") or ()]
            detail += f"; loaded: {', '.join(n for n in loaded if n) or 'none'}"
    except (errors.APIError, ValueError, AttributeError):
        pass
    return Health(provider=provider.name, status="ok", latency=latency, detail=detail)
