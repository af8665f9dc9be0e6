"""The shared base for OpenAI-compatible providers (Chat Completions, and the Responses
API beside it for providers that serve both)."""

from plugbay.health import probe
from plugbay.openai_compat.dual import ResponsesCapable, responses_only
from plugbay.openai_compat.provider import (
    OpenAICompatible,
    parse_error_body,
    price_from_listing,
)

__all__ = ["OpenAICompatible", "ResponsesCapable", "parse_error_body", "price_from_listing",
           "probe", "responses_only"]
