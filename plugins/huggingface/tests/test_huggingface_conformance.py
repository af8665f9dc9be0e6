"""Hugging Face Inference Providers against the conformance suite."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

WHOAMI = {"type": "user", "id": "6500", "name": "someone", "fullname": "Some One",
          "isPro": False, "canPay": True,
          "auth": {"type": "access_token", "accessToken": {"displayName": "plugbay",
                                                             "role": "fineGrained"}}}


class HuggingFaceWire(OpenAIWire):
    """The HF router: ``/v1`` on router.huggingface.co, string ``error`` bodies, a listing
    with per-provider ``pricing`` (USD per million), health on the Hub's ``whoami-v2``."""

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        messages = {"auth": "Invalid credentials in Authorization header",
                    "not_found": "The requested model 'org/none' does not exist",
                    "rate_limit": "Rate limit reached. Please retry later.",
                    "overloaded": "Service Unavailable", "server": "Internal Server Error"}
        return {"error": messages.get(kind, "error")}

    def model_entry(self, model_id: str, providers: list[dict[str, Any]] | None = None,
                    ) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000,
                "owned_by": model_id.split("/")[0],
                "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                "providers": providers or [
                    {"provider": "novita", "status": "live", "context_length": 131072,
                     "pricing": {"input": 0.05, "output": 0.25}, "supports_tools": True,
                     "supports_structured_output": False, "is_model_author": False},
                    {"provider": "groq", "status": "live", "context_length": 131072,
                     "pricing": {"input": 0.15, "output": 0.6}, "supports_tools": True,
                     "supports_structured_output": True, "is_model_author": False}]}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        server.add("GET", self.prefix + self.models_path, Reply.json(
            {"object": "list", "data": [self.model_entry(i) for i in ids]}))
        server.add("GET", "/api/whoami-v2", Reply.json(WHOAMI))


class TestHuggingFaceConformance(ProviderConformance):
    provider = "huggingface"
    model = "openai/gpt-oss-120b:groq"
    secret = "hf_conformanceSECRET8f3a9c2b71"
    wire = HuggingFaceWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        # The health probe goes to the Hub, not the router: point both at the fake server.
        return {**super().provider_options(server), "hub_url": server.url}
