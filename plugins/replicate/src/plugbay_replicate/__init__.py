"""Replicate (predictions API) for plugbay: sync-mode create, polling, text SSE, cancel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
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
    TextDelta,
    UsageEvent,
)
from plugbay_replicate import codec, inputs

__all__ = ["complete", "health", "list_models", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)

DEFAULT_BASE_URL = "https://api.replicate.com/v1"
KEY_ENV = ("REPLICATE_API_TOKEN",)
DEFAULT_WAIT = 60  # seconds Replicate may hold a create open (Prefer: wait, 1-60)
DEFAULT_POLL_LIMIT = 600.0  # seconds of polling when neither the call nor config bounds it
MAX_MODEL_PAGES = 5

def _prices() -> PriceTable:
    return PriceTable.for_package(__name__)


def _headers(ctx: ProviderContext) -> dict[str, str]:
    cached = ctx.state.get("headers")
    if cached is None:
        key = ctx.api_key(*KEY_ENV)
        cached = ctx.state["headers"] = {"Authorization": f"Bearer {key}"}
    return dict(cached)


def _base(ctx: ProviderContext) -> str:
    return ctx.base_url(DEFAULT_BASE_URL)


def map_error(status: int, headers: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    message, body = codec.parse_problem(raw)
    return api_error(status, headers, message, provider=ctx.name, body=body,
                     cls=codec.error_class(status, message), secrets=ctx.secrets())


def _prediction(response: Any, ctx: ProviderContext) -> dict[str, Any]:
    """The prediction a response carries; anything without an id and a status is malformed."""
    data: dict[str, Any] = response.json_object()
    if not data.get("id") or not isinstance(data.get("status"), str):
        raise errors.malformed("response is not a prediction", response.text,
                               provider=ctx.name, status=response.status)
    return data


def _wait_header(ctx: ProviderContext) -> str | None:
    wait = ctx.option("wait", DEFAULT_WAIT)
    if wait is False or wait in (0, "0"):
        return None
    try:
        seconds = min(max(int(wait), 1), 60)
    except (TypeError, ValueError):
        raise errors.ConfigError(f"wait must be seconds (1-60) or false, not {wait!r}",
                                 key=f"providers.{ctx.name}.wait") from None
    return f"wait={seconds}"


async def _create(request: Request, ctx: ProviderContext, *, stream: bool) -> dict[str, Any]:
    path, extra = codec.create_target(request.model)
    spec = inputs.resolve(request.model, ctx.option("input_map"))
    body: dict[str, Any] = {**extra, "input": inputs.build_input(request, spec)}
    headers = _headers(ctx)
    if stream:
        body["stream"] = True  # older models only return urls.stream when asked
    else:
        wait = _wait_header(ctx)
        if wait:
            headers["Prefer"] = wait
    if ctx.option("cancel_after"):
        headers["Cancel-After"] = str(ctx.option("cancel_after"))
    response = await ctx.http.request("POST", f"{_base(ctx)}{path}", headers=headers,
                                      json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, ctx)
    prediction = _prediction(response, ctx)
    limits = rate_limits(response.headers)
    if limits:
        ctx.state["rate_limits"] = limits
    return prediction


def _url(prediction: dict[str, Any], kind: str, ctx: ProviderContext) -> str:
    url = (prediction.get("urls") or {}).get(kind)
    if url:
        return str(url)
    pid = prediction.get("id")
    if not pid:
        raise errors.ProviderError("prediction has no id", provider=ctx.name)
    return f"{_base(ctx)}/predictions/{pid}" + ("/cancel" if kind == "cancel" else "")


async def _get(prediction: dict[str, Any], ctx: ProviderContext,
               timeout: float | None = None) -> dict[str, Any]:
    response = await ctx.http.request("GET", _url(prediction, "get", ctx),
                                      headers=_headers(ctx), timeout=timeout)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, ctx)
    return _prediction(response, ctx)


async def _cancel(prediction: dict[str, Any], ctx: ProviderContext) -> None:
    """Best effort: stop paying for a prediction nobody will read. Never raises."""
    try:
        await asyncio.wait_for(ctx.http.request(
            "POST", _url(prediction, "cancel", ctx), headers=_headers(ctx), timeout=5.0), 5.0)
    except (errors.APIError, asyncio.TimeoutError, OSError):
        pass


async def _poll(prediction: dict[str, Any], ctx: ProviderContext) -> dict[str, Any]:
    """Poll ``urls.get`` with backoff until the prediction is terminal."""
    limit = float(ctx.option("timeout") or ctx.option("poll_timeout") or DEFAULT_POLL_LIMIT)
    deadline = time.monotonic() + limit
    delay = float(ctx.option("poll_interval", 0.25))
    try:
        while prediction.get("status") not in codec.TERMINAL:
            if time.monotonic() + delay > deadline:
                await _cancel(prediction, ctx)
                raise errors.TimeoutError(
                    f"prediction {prediction.get('id')} still {prediction.get('status')} "
                    f"after {limit:.0f} s; it was canceled", provider=ctx.name,
                    request_id=prediction.get("id"))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            prediction = await _get(prediction, ctx)
    except asyncio.CancelledError:  # the caller's deadline: do not leave it running
        await _cancel(prediction, ctx)
        raise
    return prediction


def _extra(prediction: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"status": prediction.get("status")}
    for key in ("metrics", "version", "model", "created_at", "completed_at"):
        if prediction.get(key) is not None:
            extra[key] = prediction[key]
    return extra


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    prediction = await _create(request, provider, stream=False)
    if prediction.get("status") not in codec.TERMINAL:
        prediction = await _poll(prediction, provider)
    if prediction.get("status") != "succeeded":
        raise codec.prediction_error(prediction, provider.name)
    return Completion(text=codec.output_text(prediction.get("output")), finish_reason="stop",
                      raw_finish_reason=prediction.get("status"),
                      usage=codec.parse_usage(prediction),
                      model=prediction.get("model") or request.model, provider=provider.name,
                      id=prediction.get("id"), extra=_extra(prediction))


def _stream_error(data: str, prediction: dict[str, Any], ctx: ProviderContext,
                  partial: str) -> errors.APIError:
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data
    if isinstance(parsed, dict):
        message = str(parsed.get("detail") or parsed.get("error") or parsed)
    else:
        message = str(parsed) or "the prediction failed"
    cls = codec.error_class(None, message) or errors.StreamError
    kw: dict[str, Any] = {"partial": partial} if cls is errors.StreamError else {}
    return cls(errors.redact(message, ctx.secrets()), provider=ctx.name,
               request_id=prediction.get("id"), retryable=False, code="failed", **kw)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    prediction = await _create(request, provider, stream=True)
    if prediction.get("status") in ("failed", "canceled", "aborted"):
        raise codec.prediction_error(prediction, provider.name)
    url = (prediction.get("urls") or {}).get("stream")
    if not url:
        await _cancel(prediction, provider)
        raise errors.InvalidRequestError(f"{request.model} does not stream (no urls.stream)",
                                         provider=provider.name, request_id=prediction.get("id"))
    headers = {**_headers(provider), "Accept": "text/event-stream", "Cache-Control": "no-store"}
    text: list[str] = []
    settled = False  # the prediction is known to be over: nothing to cancel
    try:
        async with provider.http.stream("GET", url, headers=headers) as response:
            if response.status >= 400:
                raise map_error(response.status, response.headers, await response.aread(),
                                provider)
            decoder, done = SSEDecoder(), None
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    if event.event == "output":
                        if event.data:
                            text.append(event.data)
                            yield TextDelta(text=event.data)
                    elif event.event == "error":
                        settled = True
                        raise _stream_error(event.data, prediction, provider, "".join(text))
                    elif event.event == "done":
                        done = event.data
                        break
                if done is not None:
                    break
        if done is not None:
            settled = True
            reason = _done_reason(done)
            if reason == "canceled":
                raise codec.prediction_error({**prediction, "status": "canceled"},
                                             provider.name)
            if reason == "error":
                raise _stream_error(done, prediction, provider, "".join(text))
            usage = await _final_usage(prediction, provider)
        else:
            # EOF without `done`: ask the prediction itself rather than guess.
            final = await _get(prediction, provider, timeout=10.0)
            if final.get("status") != "succeeded":
                raise errors.StreamError("stream ended without its done event",
                                         provider=provider.name, partial="".join(text),
                                         request_id=prediction.get("id"))
            settled = True
            full, sent = codec.output_text(final.get("output")), "".join(text)
            if not full.startswith(sent):
                raise errors.StreamError("stream ended without its done event and the "
                                         "prediction's output does not match what arrived",
                                         provider=provider.name, partial=sent,
                                         request_id=prediction.get("id"))
            if full[len(sent):]:
                yield TextDelta(text=full[len(sent):])
            usage = codec.parse_usage(final)
    finally:
        if not settled:  # abandoned, timed out or broken: stop the prediction
            await _cancel(prediction, provider)
    if usage is not None:
        yield UsageEvent(usage=usage)
    yield FinishEvent(reason="stop", raw_reason="succeeded")


def _done_reason(data: str) -> str:
    try:
        parsed = json.loads(data) if data else {}
    except ValueError:
        return ""
    return str(parsed.get("reason") or "") if isinstance(parsed, dict) else ""


async def _final_usage(prediction: dict[str, Any], ctx: ProviderContext) -> Any:
    """Token counts live on the prediction, not in the stream: one GET, best effort."""
    if ctx.option("stream_usage", True) is False:
        return None
    try:
        return codec.parse_usage(await _get(prediction, ctx, timeout=10.0))
    except errors.APIError:
        return None


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    table = _prices()
    found: dict[str, ModelInfo] = {}
    if provider.option("list_all"):
        url: str | None = f"{_base(provider)}/models"
        pages = int(provider.option("max_pages", MAX_MODEL_PAGES))
    else:
        collection = provider.option("collection", "language-models")
        url, pages = f"{_base(provider)}/collections/{collection}", 1
    if not provider.api_key(*KEY_ENV, required=False):
        url = None  # without a token only the table's models can be listed
    for _ in range(max(pages, 1)):
        if not url:
            break
        response = await provider.http.request("GET", url, headers=_headers(provider),
                                               timeout=30.0)
        if response.status >= 400:
            raise map_error(response.status, response.headers, response.content, provider)
        data = response.json_object()
        for item in data.get("results") or data.get("models") or ():
            if isinstance(item, dict) and item.get("owner") and item.get("name"):
                model_id = f"{item['owner']}/{item['name']}"
                base = table.info(model_id, provider.name) if table.row(model_id) else None
                found.setdefault(model_id, codec.model_info(item, provider.name, base))
        url = data.get("next")
    for info in table.model_infos(provider.name):
        found.setdefault(info.id, info)
    return list(found.values())


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    return _prices().price(model.split(":", 1)[0])


@hookimpl
async def health(provider: ProviderContext) -> Health:
    return await probe(provider, lambda: provider.http.request(
        "GET", f"{_base(provider)}/account", headers=_headers(provider), timeout=10.0),
        map_error)
