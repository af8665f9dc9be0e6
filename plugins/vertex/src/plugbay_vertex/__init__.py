"""Google Vertex AI for plugbay: Gemini and Claude models with Google Cloud credentials.

Auth (Application Default Credentials through google-auth, imported lazily) is in
:mod:`plugbay_vertex.credentials`; URLs, routing by publisher and the hooks are in
:mod:`plugbay_vertex.provider`. The Gemini and Claude wire formats are the Gemini and
Anthropic plugins' codecs, reused as they are.
"""

from __future__ import annotations

from plugbay_vertex.embed import embed, embed_limits
from plugbay_vertex.provider import complete, health, list_models, price, stream
from plugbay_vertex.tokens import count_tokens

__all__ = ["complete", "count_tokens", "embed", "embed_limits", "health", "list_models", "price",
           "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
