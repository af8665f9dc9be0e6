"""Google Gemini API (AI Studio, native ``generateContent``) for plugbay.

The wire format is in :mod:`plugbay_gemini.codec` (pure; the Vertex AI plugin
reuses it); HTTP, API-key auth and error mapping are in
:mod:`plugbay_gemini.provider`. This module exports the five hooks and the
batch hooks (Batch Mode, :mod:`plugbay_gemini.batch`).
"""

from __future__ import annotations

from plugbay.params import ParamLimits
from plugbay_gemini.batch import batch_cancel, batch_poll, batch_results, batch_submit
from plugbay_gemini.embed import embed, embed_limits
from plugbay_gemini.provider import complete, health, list_models, price, stream
from plugbay_gemini.tokens import count_tokens

__all__ = ["batch_cancel", "batch_poll", "batch_results", "batch_submit", "complete",
           "count_tokens", "embed", "embed_limits", "health", "list_models", "price",
           "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)

# The ranges the API accepts (Gemini API GenerationConfig: temperature 0.0 to 2.0, topP 0 to 1);
# a request outside them is refused before it is sent.
param_limits = ParamLimits(temperature=(0.0, 2.0), top_p=(0.0, 1.0))
