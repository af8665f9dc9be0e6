"""The shared base for OpenAI-compatible providers (Chat Completions)."""

from plugbay.health import probe
from plugbay.openai_compat.provider import (
    OpenAICompatible,
    parse_error_body,
    price_from_listing,
)

__all__ = ["OpenAICompatible", "parse_error_body", "price_from_listing", "probe"]
