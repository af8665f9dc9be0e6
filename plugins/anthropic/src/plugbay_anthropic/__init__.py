"""Anthropic (native Messages API) for plugbay.

The wire format is in :mod:`plugbay_anthropic.codec` (pure, reused by the Vertex
AI plugin for Claude on Vertex); HTTP, auth and error mapping are in
:mod:`plugbay_anthropic.provider`. This module exports the five hooks and the
batch hooks (Message Batches, :mod:`plugbay_anthropic.batch`).
"""

from __future__ import annotations

from plugbay.params import ParamLimits
from plugbay_anthropic.batch import batch_cancel, batch_poll, batch_results, batch_submit
from plugbay_anthropic.provider import complete, health, list_models, price, stream
from plugbay_anthropic.tokens import count_tokens

__all__ = ["batch_cancel", "batch_poll", "batch_results", "batch_submit", "complete",
           "count_tokens", "health", "list_models", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)

# The ranges the API accepts (Anthropic's Messages API: temperature 0.0 to 1.0, top_p 0 to 1);
# a request outside them is refused before it is sent.
param_limits = ParamLimits(temperature=(0.0, 1.0), top_p=(0.0, 1.0))
