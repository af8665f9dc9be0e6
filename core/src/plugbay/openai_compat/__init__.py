"""The shared base for OpenAI-compatible providers (Chat Completions)."""

from plugbay.openai_compat.provider import OpenAICompatible, parse_error_body, probe

__all__ = ["OpenAICompatible", "parse_error_body", "probe"]
