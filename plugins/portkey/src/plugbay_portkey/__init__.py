"""Portkey's AI gateway used as an upstream provider (hosted or self-hosted).

Portkey authenticates with ``x-portkey-api-key`` and routes with one of
``x-portkey-config`` (a saved config id or an inline JSON config),
``x-portkey-virtual-key`` or ``x-portkey-provider`` (plus the provider's own key as
``Authorization``). Those come from this instance's options. Gateway-level failures are
``{"status": "failure", "message": ...}``; upstream failures keep the upstream's
OpenAI-style body. The upstream bills, so the price is ``None`` unless configured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error
from plugbay.openai_compat import OpenAICompatible, parse_error_body
from plugbay.pricing import configured_price
from plugbay.types import Price


def _header_value(value: Any) -> str:
    """Options may give a config or metadata as a table: Portkey wants JSON text."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class Portkey(OpenAICompatible):
    name = "portkey"
    default_base_url = "https://api.portkey.ai/v1"

    def auth_headers(self, ctx: ProviderContext) -> dict[str, str]:
        return {"x-portkey-api-key": str(ctx.api_key())}

    def extra_headers(self, ctx: ProviderContext) -> dict[str, str]:
        headers: dict[str, str] = {}
        for option, header in (("config", "x-portkey-config"),
                               ("virtual_key", "x-portkey-virtual-key"),
                               ("provider", "x-portkey-provider"),
                               ("trace_id", "x-portkey-trace-id"),
                               ("metadata", "x-portkey-metadata")):
            value = ctx.option(option) or (
                ctx.setting(option) if option != "metadata" else None)
            if value:
                headers[header] = _header_value(value)
        upstream_key = ctx.setting("provider_api_key")
        if upstream_key:  # with x-portkey-provider: the upstream's own key
            headers["Authorization"] = f"Bearer {upstream_key}"
        return headers

    @hookimpl
    def price(self, model: str, provider: ProviderContext) -> Price | None:
        return configured_price(provider.options, model, provider=provider.name)

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        message, code, body = parse_error_body(raw)
        if isinstance(body, dict) and body.get("status") == "failure":
            # The gateway itself refused (bad config, unknown provider, bad key).
            details = body.get("errors")
            if isinstance(details, list) and details:
                message = f"{message}: {'; '.join(str(d) for d in details)}"
            code = code or "portkey_gateway"
        if "x-portkey-trace-id" in headers and "x-request-id" not in headers:
            headers = {**headers, "x-request-id": headers["x-portkey-trace-id"]}
        return api_error(status, headers, message, provider=ctx.name, body=body,
                         cls=self.error_class(status, code, message), code=code,
                         secrets=ctx.secrets())


plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Portkey()
complete, stream, list_models, price, health = plugin.hookimpls()
