"""``OpenAICompatible``: one implementation of the five hooks for Chat Completions servers.

A plugin for an OpenAI-compatible provider subclasses it, sets a few class
attributes (name, base URL, key variables, price table) and overrides a quirk
hook only where its provider differs, then exports the hooks::

    class Groq(OpenAICompatible):
        name = "groq"
        default_base_url = "https://api.groq.com/openai/v1"
        price_package = __name__

    plugin = Groq()
    complete, stream, list_models, price, health = plugin.hookimpls()
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

import plugbay.openai_compat.codec as codec
from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.cost.prices import PriceTable
from plugbay.health import probe
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error, rate_limits
from plugbay.http.sse import SSEDecoder
from plugbay.types import (
    Completion,
    Health,
    ModelInfo,
    Price,
    Request,
    StreamEvent,
    UsageEvent,
)

__all__ = ["OpenAICompatible", "parse_error_body", "price_from_listing"]

_CONTEXT_HINTS = ("context_length", "context length", "maximum context", "too many tokens",
                  "prompt is too long", "context window")


def parse_error_body(raw: bytes | str | Any) -> tuple[str, str | None, Any]:
    """(message, code, body) from the many error shapes of compatible servers."""
    body: Any = raw
    if isinstance(raw, (bytes, str)):
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            return (text.strip()[:500] or "empty error body"), None, text[:2000]
    if not isinstance(body, dict):
        return str(body)[:500], None, body
    err = body.get("error", body)
    if isinstance(err, str):
        return err, body.get("code") or body.get("type"), body
    if not isinstance(err, dict):
        return str(err), None, body
    message = err.get("message") or err.get("detail") or body.get("detail") or "unknown error"
    if not isinstance(message, str):
        message = json.dumps(message)[:1000]
    code = err.get("code") or err.get("type")
    return message, (str(code) if code is not None else None), body


def price_from_listing(pricing: Any, fields: Mapping[str, str], *, source: str,
                       scale: float = 1.0) -> Price | None:
    """A per-million ``Price`` from a model listing's pricing entry, dated today.

    ``fields`` maps Price fields (``input``, ``output``, ``cached_input``, ...) to the
    listing's keys; ``scale`` turns a listed figure into USD per million tokens (1e6 for
    per-token prices). Missing, unparsable or negative figures (OpenRouter's ``"-1"`` for
    variable pricing) are unknown; without both input and output there is no price.
    """
    if not isinstance(pricing, Mapping):
        return None
    values: dict[str, float | None] = {}
    for field, key in fields.items():
        try:
            value = float(pricing[key])
        except (KeyError, TypeError, ValueError):
            value = None
        # Round away float noise from per-token strings ("0.0000025" * 1e6).
        values[field] = float(f"{value * scale:.10g}") if value is not None and value >= 0 \
            else None
    if values.get("input") is None or values.get("output") is None:
        return None
    return Price.model_validate({**values, "as_of": dt.date.today(), "source": source})


class OpenAICompatible:
    """The shared base. Every attribute and hook below is a documented quirk point."""

    name: ClassVar[str] = "openai-compatible"
    default_base_url: ClassVar[str] = ""
    api_key_env: ClassVar[tuple[str, ...]] = ()  # conventional variables besides <NAME>_API_KEY
    key_required: ClassVar[bool] = True
    chat_path: ClassVar[str] = "/chat/completions"
    models_path: ClassVar[str] = "/models"
    health_path: ClassVar[str | None] = None  # defaults to models_path
    max_tokens_field: ClassVar[str] = "max_tokens"
    seed_field: ClassVar[str] = "seed"
    include_usage: ClassVar[bool] = True
    price_package: ClassVar[str | None] = None
    list_live_models: ClassVar[bool] = True
    models_need_key: ClassVar[bool] = True  # False: the listing is public, list without a key

    def __init__(self) -> None:
        self._table: PriceTable | None = None

    # ------------------------------------------------------------ quirk hooks

    def auth_headers(self, ctx: ProviderContext) -> dict[str, str]:
        key = ctx.api_key(*self.api_key_env, required=self.key_required)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def extra_headers(self, ctx: ProviderContext) -> dict[str, str]:
        return {}

    def headers(self, ctx: ProviderContext) -> dict[str, str]:
        cached = ctx.state.get("headers")
        if cached is None:
            cached = ctx.state["headers"] = {**self.auth_headers(ctx), **self.extra_headers(ctx)}
        return cached

    def url(self, ctx: ProviderContext, path: str) -> str:
        return f"{ctx.base_url(self.default_base_url)}{path}"

    def chat_url(self, ctx: ProviderContext, model: str) -> str:
        """The chat endpoint for ``model`` (the body's model id); Azure puts it in the path."""
        return self.url(ctx, self.chat_path)

    def model_id(self, model: str) -> str:
        """The id the provider knows ``model`` by (e.g. expand a short name); sent and priced."""
        return model

    def body(self, request: Request, ctx: ProviderContext, *, stream: bool) -> dict[str, Any]:
        body = codec.build_body(request, stream=stream, max_tokens_field=self.max_tokens_field,
                                seed_field=self.seed_field, include_usage=self.include_usage)
        body["model"] = self.model_id(body["model"])
        return body

    def completion_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        """Provider-specific fields to surface on ``Completion.extra``."""
        return {}

    def parse_usage(self, data: dict[str, Any]) -> Any:
        return codec.parse_usage(data.get("usage"))

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        """Refine the error class from the provider's code and message."""
        low = message.lower()
        if code in ("context_length_exceeded", "string_above_max_length") or any(
                h in low for h in _CONTEXT_HINTS):
            return errors.ContextLengthError
        if code in ("insufficient_quota", "billing_hard_limit_reached") or status == 402:
            return errors.QuotaExceededError
        if code == "model_not_found" or (status == 404 and "model" in low):
            return errors.ModelNotFoundError
        if code in ("content_filter", "content_policy_violation"):
            return errors.ContentFilterError
        if code in ("invalid_api_key", "authentication_error"):
            return errors.AuthenticationError
        return None

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        message, code, body = parse_error_body(raw)
        return api_error(status, headers, message, provider=ctx.name, body=body,
                         cls=self.error_class(status, code, message), code=code,
                         secrets=ctx.secrets())

    def chunk_error(self, chunk: dict[str, Any], ctx: ProviderContext) -> errors.APIError | None:
        """A mid-stream error chunk (``{"error": {...}}``) as a typed error."""
        err = chunk.get("error")
        if not err:
            return None
        message, code, body = parse_error_body(chunk)
        status = err.get("code") if isinstance(err, dict) else None
        status = status if isinstance(status, int) else 500
        return api_error(status, {}, message, provider=ctx.name, body=body, code=code,
                         cls=self.error_class(status, code, message), secrets=ctx.secrets())

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        table = self.table()
        info = table.info(item["id"], ctx.name) if table else ModelInfo(id=item["id"],
                                                                        provider=ctx.name)
        window = item.get("context_length") or item.get("max_model_len") or item.get(
            "max_context_length")
        if window and not info.context_window:
            info.context_window = int(window)
        return info

    def listing_prices(self, item: dict[str, Any], ctx: ProviderContext) -> dict[str, Price]:
        """Prices a listing item carries, by model id (see ``price_from_listing``)."""
        return {}

    def parse_models(self, data: Any) -> list[dict[str, Any]]:
        items = data if isinstance(data, list) else (data or {}).get("data") or []
        return [i for i in items if isinstance(i, dict) and i.get("id")]

    # ------------------------------------------------------------ the hooks

    @hookimpl
    async def complete(self, request: Request, provider: ProviderContext) -> Completion:
        body = self.body(request, provider, stream=False)
        response = await provider.http.request("POST", self.chat_url(provider, body["model"]),
                                               headers=self.headers(provider), json=body)
        if response.status >= 400:
            raise self.map_error(response.status, response.headers, response.content, provider)
        data = response.json_object()
        failure = self.chunk_error(data, provider)
        if failure is not None:  # some servers answer 200 with an error body
            raise failure
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            raise errors.malformed("response has no choices", response.text,
                                   provider=provider.name, status=response.status)
        text, reasoning, calls = codec.parse_message(choice.get("message") or {})
        raw = choice.get("finish_reason")
        extra = self.completion_extra(data)
        limits = rate_limits(response.headers)
        if limits:
            extra["rate_limits"] = provider.state["rate_limits"] = limits
        return Completion(
            text=text, reasoning=reasoning, tool_calls=calls,
            finish_reason=codec.finish_reason(raw, has_calls=bool(calls)),
            raw_finish_reason=raw,
            usage=self.parse_usage(data), model=data.get("model") or request.model,
            provider=provider.name, id=data.get("id"), extra=extra,
        )

    @hookimpl
    async def stream(self, request: Request, provider: ProviderContext,
                     ) -> AsyncIterator[StreamEvent]:
        body = self.body(request, provider, stream=True)
        async with provider.http.stream("POST", self.chat_url(provider, body["model"]),
                                        headers=self.headers(provider), json=body) as response:
            if response.status >= 400:
                raise self.map_error(response.status, response.headers, await response.aread(),
                                     provider)
            limits = rate_limits(response.headers)
            if limits:
                provider.state["rate_limits"] = limits
            decoder, usage, done = SSEDecoder(provider.http.limits.max_event), None, False
            state: dict[str, Any] = {}
            extra: dict[str, Any] = {"rate_limits": limits} if limits else {}
            # Only a plugin that surfaces extras pays for collecting them per chunk.
            collect = type(self).completion_extra is not OpenAICompatible.completion_extra
            loads, events = json.loads, codec.stream_events
            async for raw in response.aiter_bytes():
                for event in decoder.feed(raw):
                    if event.data == "[DONE]":
                        done = True
                        break
                    try:
                        chunk = loads(event.data)
                    except ValueError:
                        raise errors.StreamError(f"malformed JSON in stream: {event.data[:100]!r}",
                                                 provider=provider.name) from None
                    if not isinstance(chunk, dict):
                        raise errors.malformed("stream chunk is not a JSON object", event.data,
                                               provider=provider.name)
                    if "error" in chunk:
                        failure = self.chunk_error(chunk, provider)
                        if failure is not None:
                            raise failure
                    for item in events(chunk, state):
                        yield item
                    if chunk.get("usage"):
                        usage = self.parse_usage(chunk)
                    if collect:
                        extra.update(self.completion_extra(chunk))
                    self.on_chunk(chunk, state)
                if done:
                    break
            if not done:
                raise errors.StreamError("stream ended without its final [DONE] event",
                                         provider=provider.name)
        if usage is None:  # on_chunk may have found usage elsewhere (Groq's x_groq)
            usage = state.get("usage")
        if usage is not None:
            yield UsageEvent(usage=usage)
        yield codec.finish_event(state.get("finish"), extra, has_calls="calls" in state)

    def on_chunk(self, chunk: dict[str, Any], state: dict[str, Any]) -> None:
        """Called for every chunk; a quirk hook (e.g. collect citations into ``state``).
        Setting ``state["usage"]`` reports usage when no chunk has top-level ``usage``."""

    @hookimpl
    async def list_models(self, provider: ProviderContext) -> list[ModelInfo]:
        table = self.table()
        found: dict[str, ModelInfo] = {}
        has_key = self.key_required is False or provider.api_key(
            *self.api_key_env, required=False) is not None
        public = not self.models_need_key
        if self.list_live_models and (has_key or table is None or public):
            try:
                await self._live_models(provider, found, authed=has_key or not public)
            except errors.APIError:
                if has_key or table is None:
                    raise
                # Keyless, the public catalogue is a bonus: offline, the table still lists.
        if table is not None:
            for info in table.model_infos(provider.name):
                found.setdefault(info.id, info)
        return list(found.values())

    async def _live_models(self, provider: ProviderContext, found: dict[str, ModelInfo], *,
                           authed: bool) -> None:
        response = await provider.http.request(
            "GET", self.url(provider, self.models_path),
            headers=self.headers(provider) if authed else {}, timeout=30.0)
        if response.status >= 400:
            raise self.map_error(response.status, response.headers, response.content, provider)
        prices: dict[str, Price] = {}
        for item in self.parse_models(response.json()):
            info = found.setdefault(item["id"], self.model_info(item, provider))
            listed = self.listing_prices(item, provider)
            if item["id"] in listed:
                info.extra["price"] = listed[item["id"]]
            prices.update(listed)
        if prices:  # the price hook prefers these fresh figures to the static table
            provider.state["listing_prices"] = prices

    @hookimpl
    def price(self, model: str, provider: ProviderContext) -> Price | None:
        model = self.model_id(model)
        listed = provider.state.get("listing_prices")
        if listed and model in listed:
            return listed[model]  # type: ignore[no-any-return]
        table = self.table()
        return table.price(model) if table else None

    @hookimpl
    async def health(self, provider: ProviderContext) -> Health:
        return await probe(provider, lambda: provider.http.request(
            "GET", self.url(provider, self.health_path or self.models_path),
            headers=self.headers(provider), timeout=10.0), self.map_error)

    # ------------------------------------------------------------ helpers

    def table(self) -> PriceTable | None:
        if self._table is None and self.price_package:
            self._table = PriceTable.for_package(self.price_package)
        return self._table

    def hookimpls(self) -> tuple[Callable[..., Any], ...]:
        """The five bound hooks, to assign at module level in the plugin."""
        return (self.complete, self.stream, self.list_models, self.price, self.health)
