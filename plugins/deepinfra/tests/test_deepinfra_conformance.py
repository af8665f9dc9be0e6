"""DeepInfra against the conformance suite, with a wire that speaks DeepInfra's dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire


class DeepInfraWire(OpenAIWire):
    """DeepInfra: ``/v1/openai`` prefix, and a public ``/models`` listing whose items carry
    ``metadata`` (context_length, max_tokens, tags, pricing per million tokens)."""

    prefix = "/v1/openai"

    def model_entry(self, model_id: str, pricing: dict[str, float] | None = None,
                    tags: list[str] | None = None) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000,
                "owned_by": "deepinfra", "root": model_id, "parent": None,
                "metadata": {"description": "fake", "context_length": 131072,
                             "max_tokens": 16384, "tags": tags or [],
                             "pricing": pricing or {"input_tokens": 0.05,
                                                    "output_tokens": 0.24}}}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        server.add("GET", self.prefix + self.models_path, Reply.json(
            {"object": "list", "data": [self.model_entry(i) for i in ids]}))


class TestDeepInfraConformance(ProviderConformance):
    provider = "deepinfra"
    model = "openai/gpt-oss-120b"
    wire = DeepInfraWire()
