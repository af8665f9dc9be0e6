"""plugbay: one typed, fast interface to every LLM provider.

Importing this package is cheap: it imports no plugin, no SDK and not even
pydantic. Names are loaded on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from plugbay.client import Client, Listing
    from plugbay.context import ProviderContext
    from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
    from plugbay.errors import (
        APIError,
        AuthenticationError,
        BudgetExceededError,
        ConfigError,
        ConnectionError,
        ContentFilterError,
        ContextLengthError,
        EmbeddingUnsupportedError,
        InputTooLongError,
        InvalidRequestError,
        MalformedResponseError,
        MissingAPIKeyError,
        ModelNotFoundError,
        OverloadedError,
        PermissionDeniedError,
        PlugbayError,
        PluginCallError,
        PluginError,
        ProviderError,
        QuotaExceededError,
        RateLimitError,
        ResponseTooLargeError,
        StreamError,
        TimeoutError,
        UnknownProviderError,
    )
    from plugbay.hookspecs import hookimpl
    from plugbay.types import (
        Completion,
        Cost,
        FinishEvent,
        Health,
        ImagePart,
        Message,
        ModelInfo,
        Price,
        ReasoningDelta,
        Request,
        ResponseFormat,
        TextDelta,
        TextPart,
        Tool,
        ToolCall,
        ToolCallDelta,
        ToolChoice,
        Usage,
        UsageEvent,
    )

_WHERE = {
    "Client": "client", "Listing": "client", "ProviderContext": "context", "hookimpl": "hookspecs",
    "ParamLimits": "params", "TokenCount": "tokens",
    "EmbedLimits": "embeddings", "EmbedRequest": "embeddings", "Embeddings": "embeddings",
    "EmbeddingUnsupportedError": "errors", "InputTooLongError": "errors",
    **dict.fromkeys(
        ["APIError", "AuthenticationError", "BudgetExceededError", "ConfigError", "ConnectionError",
         "ContentFilterError", "ContextLengthError", "InvalidRequestError",
         "MalformedResponseError", "MissingAPIKeyError",
         "ModelNotFoundError", "OverloadedError", "PermissionDeniedError", "PlugbayError",
         "PluginCallError", "PluginError", "ProviderError", "QuotaExceededError",
         "RateLimitError", "ResponseTooLargeError", "StreamError", "TimeoutError",
         "UnknownProviderError"], "errors"),
    **dict.fromkeys(
        ["Completion", "Cost", "FinishEvent", "Health", "ImagePart", "Message", "ModelInfo",
         "Price", "ReasoningDelta", "Request", "ResponseFormat", "TextDelta", "TextPart", "Tool",
         "ToolCall", "ToolCallDelta", "ToolChoice", "Usage", "UsageEvent"], "types"),
}

__all__ = [
    "APIError",
    "AuthenticationError",
    "BudgetExceededError",
    "Client",
    "Completion",
    "ConfigError",
    "ConnectionError",
    "ContentFilterError",
    "ContextLengthError",
    "Cost",
    "EmbedLimits",
    "EmbedRequest",
    "EmbeddingUnsupportedError",
    "Embeddings",
    "FinishEvent",
    "Health",
    "ImagePart",
    "InputTooLongError",
    "InvalidRequestError",
    "Listing",
    "MalformedResponseError",
    "Message",
    "MissingAPIKeyError",
    "ModelInfo",
    "ModelNotFoundError",
    "OverloadedError",
    "ParamLimits",
    "PermissionDeniedError",
    "PlugbayError",
    "PluginCallError",
    "PluginError",
    "Price",
    "ProviderContext",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "ReasoningDelta",
    "Request",
    "ResponseFormat",
    "ResponseTooLargeError",
    "StreamError",
    "TextDelta",
    "TextPart",
    "TimeoutError",
    "TokenCount",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "UnknownProviderError",
    "Usage",
    "UsageEvent",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'plugbay' has no attribute {name!r}")
    value = getattr(import_module(f"plugbay.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
