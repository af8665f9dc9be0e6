"""Amazon Bedrock (Converse / ConverseStream) for plugbay.

Authentication works the way boto3's does (credential chain, profiles, SSO, roles,
instance metadata; or a Bedrock API key); botocore is imported lazily on the first
request, never here. Modules: :mod:`plugbay_bedrock.auth` (credentials and SigV4),
:mod:`plugbay_bedrock.codec` (Converse bodies and errors),
:mod:`plugbay_bedrock.eventstream` (the binary stream framing),
:mod:`plugbay_bedrock.streaming` (ConverseStream events) and
:mod:`plugbay_bedrock.provider` (HTTP and the five hooks).
"""

from __future__ import annotations

from plugbay_bedrock.embed_codec import EMBED_LIMITS
from plugbay_bedrock.provider import (
    complete,
    count_tokens,
    embed,
    health,
    list_models,
    price,
    stream,
)

__all__ = ["complete", "count_tokens", "embed", "embed_limits", "health", "list_models", "price",
           "stream"]

embed_limits = EMBED_LIMITS  # Titan one input a request, Cohere 96 (embed_codec)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
