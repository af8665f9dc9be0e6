"""Anthropic (native Messages API) for plugbay.

The wire format is in :mod:`plugbay_anthropic.codec` (pure, reused by the Vertex
AI plugin for Claude on Vertex); HTTP, auth and error mapping are in
:mod:`plugbay_anthropic.provider`. This module exports the five hooks and the
batch hooks (Message Batches, :mod:`plugbay_anthropic.batch`).
"""

from __future__ import annotations

from plugbay_anthropic.batch import batch_cancel, batch_poll, batch_results, batch_submit
from plugbay_anthropic.provider import complete, health, list_models, price, stream

__all__ = ["batch_cancel", "batch_poll", "batch_results", "batch_submit", "complete",
           "health", "list_models", "price", "stream"]
