"""Google Gemini API (AI Studio, native ``generateContent``) for plugbay.

The wire format is in :mod:`plugbay_gemini.codec` (pure; the Vertex AI plugin
reuses it); HTTP, API-key auth and error mapping are in
:mod:`plugbay_gemini.provider`. This module exports the five hooks and the
batch hooks (Batch Mode, :mod:`plugbay_gemini.batch`).
"""

from __future__ import annotations

from plugbay_gemini.batch import batch_cancel, batch_poll, batch_results, batch_submit
from plugbay_gemini.provider import complete, health, list_models, price, stream

__all__ = ["batch_cancel", "batch_poll", "batch_results", "batch_submit", "complete",
           "health", "list_models", "price", "stream"]
