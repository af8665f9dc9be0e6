"""A LiteLLM proxy (AI gateway) used as an upstream provider.

The proxy speaks Chat Completions and authenticates with ``Authorization: Bearer`` and
its master key or a virtual key (optional: a proxy started without a master key accepts
anything). Models are the proxy's model groups from ``/v1/models``. The upstream
provider bills, so the price is ``None`` unless this instance configures one with the
``prices`` option. Errors carry the status as a string ``code`` and a message prefixed
with LiteLLM's exception name (``litellm.RateLimitError: OpenAIException - ...``), which
refines the error class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error
from plugbay.openai_compat import OpenAICompatible, parse_error_body
from plugbay.pricing import configured_price
from plugbay.types import Price

# LiteLLM's exception names (they open the message) -> plugbay's classes.
_BY_EXCEPTION: dict[str, type[errors.APIError]] = {
    "ContextWindowExceededError": errors.ContextLengthError,
    "ContentPolicyViolationError": errors.ContentFilterError,
    "NotFoundError": errors.ModelNotFoundError,
    "AuthenticationError": errors.AuthenticationError,
    "PermissionDeniedError": errors.PermissionDeniedError,
    "RateLimitError": errors.RateLimitError,
    "BudgetExceededError": errors.QuotaExceededError,
    "Timeout": errors.TimeoutError,
    "ServiceUnavailableError": errors.OverloadedError,
}
_BY_TYPE: dict[str, type[errors.APIError]] = {
    "budget_exceeded": errors.QuotaExceededError,
    "auth_error": errors.AuthenticationError,
}


class LiteLLMProxy(OpenAICompatible):
    name = "litellm-proxy"
    # The address LiteLLM's docs start the proxy on; set base_url for a remote one.
    default_base_url = "http://0.0.0.0:4000"
    api_key_env = ("LITELLM_API_KEY",)
    key_required = False

    @hookimpl
    def price(self, model: str, provider: ProviderContext) -> Price | None:
        return configured_price(provider.options, model, provider=provider.name)

    def classify(self, status: int, kind: str | None, message: str,
                 ) -> type[errors.APIError] | None:
        if kind in _BY_TYPE:
            return _BY_TYPE[kind]
        low = message.lower()
        if "budget" in low and "exceeded" in low:
            return errors.QuotaExceededError
        if "overloaded" in low:  # e.g. AnthropicException - Overloaded, sent as a 500
            return errors.OverloadedError
        head = message.split(":", 1)[0]
        if head.startswith("litellm."):
            found = _BY_EXCEPTION.get(head[len("litellm."):])
            if found is not None:
                return found
        return self.error_class(status, None, message)

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        message, code, body = parse_error_body(raw)
        err = body.get("error") if isinstance(body, dict) else None
        kind = err.get("type") if isinstance(err, dict) else None
        return api_error(status, headers, message, provider=ctx.name, body=body,
                         cls=self.classify(status, kind, message), code=code,
                         secrets=ctx.secrets())


plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = LiteLLMProxy()
complete, stream, list_models, price, health = plugin.hookimpls()
