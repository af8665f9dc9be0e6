{%- set c = cookiecutter -%}
{%- set default_env = c.__env_prefix ~ '_API_KEY' -%}
{%- if c.flavour == 'openai-compatible' -%}
"""{{ c.display_name }} for plugbay, on the shared OpenAI-compatible base.

Only what differs from OpenAI belongs here: configuration, quirk hooks and data.
The base (``plugbay.openai_compat.OpenAICompatible``) documents every quirk hook.
"""

from __future__ import annotations
{% if c.auth != 'bearer' %}
from plugbay.context import ProviderContext
{%- endif %}
from plugbay.openai_compat import OpenAICompatible


class {{ c.__class_name }}(OpenAICompatible):
    name = "{{ c.provider }}"
    default_base_url = "{{ c.base_url.rstrip('/') }}"
{%- if c.auth == 'none' %}
    key_required = False  # no key: a local server or a keyless gateway
{%- elif c.api_key_env != default_env %}
    # Read after the config's api_key and {{ default_env }}.
    api_key_env = ("{{ c.api_key_env }}",)
{%- endif %}
    price_package = __name__
{%- if c.auth == 'header' %}

    def auth_headers(self, ctx: ProviderContext) -> dict[str, str]:
        # The key goes in a header of its own, not in Authorization: Bearer.
        key = ctx.api_key(*self.api_key_env, required=self.key_required)
        return {"{{ c.auth_header }}": key} if key else {}
{%- elif c.auth == 'none' %}

    def auth_headers(self, ctx: ProviderContext) -> dict[str, str]:
        return {}  # never send a key, even one left in the config
{%- endif %}


plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = {{ c.__class_name }}()
complete, stream, list_models, price, health = plugin.hookimpls()
{%- else -%}
"""{{ c.display_name }} for plugbay: a native protocol.

The wire format lives in ``codec.py``. The five hooks below are complete except for
it: they send requests through ``provider.http`` (the only HTTP client a plugin may
use), map every failure into ``plugbay.errors`` and read prices from ``prices.toml``.
Write the codec functions (each raises NotImplementedError naming its checklist step
until then) and adjust the paths.
"""

from __future__ import annotations

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
    UsageEvent,
)
from {{ c.__module }} import codec

__all__ = ["complete", "health", "list_models", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
DEFAULT_BASE_URL = "{{ c.base_url.rstrip('/') }}"
{%- if c.auth == 'none' %}
KEY_ENV: tuple[str, ...] = ()  # no key: a local server or a keyless gateway
{%- elif c.api_key_env != default_env %}
# Read after the config's api_key and {{ default_env }}.
KEY_ENV: tuple[str, ...] = ("{{ c.api_key_env }}",)
{%- else %}
KEY_ENV: tuple[str, ...] = ()  # ctx.api_key() already reads {{ default_env }}
{%- endif %}
KEY_REQUIRED = {{ 'False' if c.auth == 'none' else 'True' }}
# TO FILL IN: the real paths, relative to the base URL.
CHAT_PATH = "/chat"
MODELS_PATH = "/models"


def _prices() -> PriceTable:
    return PriceTable.for_package(__name__)  # read once per process


def _headers(ctx: ProviderContext) -> dict[str, str]:
    cached = ctx.state.get("headers")
    if cached is None:
{%- if c.auth == 'bearer' %}
        cached = {"Authorization": f"Bearer {ctx.api_key(*KEY_ENV)}"}
{%- elif c.auth == 'header' %}
        cached = {"{{ c.auth_header }}": str(ctx.api_key(*KEY_ENV))}
{%- else %}
        cached = {}
{%- endif %}
        ctx.state["headers"] = cached
    return dict(cached)


def _url(ctx: ProviderContext, path: str) -> str:
    return f"{ctx.base_url(DEFAULT_BASE_URL)}{path}"


def map_error(status: int, headers: Mapping[str, str], raw: Any,
              ctx: ProviderContext) -> errors.APIError:
    """An HTTP failure as the plugbay error it means, with request id and retry_after."""
    message, code, body = codec.parse_error(raw)
    return api_error(status, headers, message, provider=ctx.name, body=body, code=code,
                     cls=codec.error_class(status, code, message), secrets=ctx.secrets())


@hookimpl
async def complete(request: Request, provider: ProviderContext) -> Completion:
    body = codec.build_body(request, stream=False)
    response = await provider.http.request("POST", _url(provider, CHAT_PATH),
                                           headers=_headers(provider), json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    fields = codec.parse_response(response.json())
    limits = rate_limits(response.headers)
    if limits:
        fields.setdefault("extra", {})["rate_limits"] = limits
    fields.setdefault("model", request.model)
    return Completion(provider=provider.name, **fields)


@hookimpl
async def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    body = codec.build_body(request, stream=True)
    state: dict[str, Any] = {}
    partial: list[str] = []
    async with provider.http.stream("POST", _url(provider, CHAT_PATH),
                                    headers=_headers(provider), json=body) as response:
        if response.status >= 400:
            raise map_error(response.status, response.headers, await response.aread(),
                            provider)
        decoder = SSEDecoder()  # TO FILL IN if the provider streams NDJSON: NDJSONDecoder
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                failure = codec.stream_error(event.event, event.data)
                if failure is not None:
                    status, message, code = failure
                    raise api_error(status, {}, message, provider=provider.name, code=code,
                                    cls=codec.error_class(status, code, message),
                                    secrets=provider.secrets())
                for item in codec.stream_events(event.event, event.data, state):
                    if item.type == "text":
                        partial.append(item.text)
                    yield item
                if state.get("done"):
                    break
            if state.get("done"):
                break
        if not state.get("done"):
            raise errors.StreamError("stream ended without its terminal event",
                                     provider=provider.name, partial="".join(partial))
    if state.get("usage") is not None:
        yield UsageEvent(usage=state["usage"])
    raw = state.get("finish")
    yield FinishEvent(reason=codec.finish_reason(raw), raw_reason=raw)


@hookimpl
async def list_models(provider: ProviderContext) -> list[ModelInfo]:
    table = _prices()
    found: dict[str, ModelInfo] = {}
    # Without a key the live listing cannot answer; the price table still lists its models.
    if not KEY_REQUIRED or provider.api_key(*KEY_ENV, required=False):
        response = await provider.http.request("GET", _url(provider, MODELS_PATH),
                                               headers=_headers(provider), timeout=30.0)
        if response.status >= 400:
            raise map_error(response.status, response.headers, response.content, provider)
        for info in codec.parse_models(response.json(), provider.name):
            # The table's facts (window, capabilities) win over a sparse listing.
            found[info.id] = table.info(info.id, provider.name) if table.row(info.id) else info
    for info in table.model_infos(provider.name):
        found.setdefault(info.id, info)
    return list(found.values())


@hookimpl
def price(model: str, provider: ProviderContext) -> Price | None:
    return _prices().price(model)


@hookimpl
async def health(provider: ProviderContext) -> Health:
    return await probe(provider, lambda: provider.http.request(
        "GET", _url(provider, MODELS_PATH), headers=_headers(provider), timeout=10.0),
        map_error)
{%- endif %}
