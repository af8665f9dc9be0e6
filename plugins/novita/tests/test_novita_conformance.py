"""Novita AI against the conformance suite, with a wire that speaks Novita's dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire


class NovitaWire(OpenAIWire):
    """Novita: ``/openai/v1`` prefix, and a model listing with ``title``, ``context_size``
    and prices in 0.0001 USD per million tokens (``input_token_price_per_m``)."""

    prefix = "/openai/v1"

    def model_entry(self, model_id: str, input_units: int = 2700,
                    output_units: int = 11200) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000,
                "owned_by": "unknown", "permission": None, "root": "", "parent": "",
                "title": f"Fake {model_id}", "description": "fake",
                "input_token_price_per_m": input_units,
                "output_token_price_per_m": output_units,
                "context_size": 163840, "max_output_tokens": 65536, "model_type": "chat",
                "features": ["function-calling"], "input_modalities": ["text"],
                "output_modalities": ["text"], "status": 1}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        server.add("GET", self.prefix + self.models_path, Reply.json(
            {"data": [self.model_entry(i) for i in ids]}))


class TestNovitaConformance(ProviderConformance):
    provider = "novita"
    model = "deepseek/deepseek-v3-0324"
    wire = NovitaWire()
