"""Fireworks AI against the conformance suite, with a wire that speaks its dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire


class FireworksWire(OpenAIWire):
    """Fireworks: ``/inference/v1`` prefix, ``accounts/<account>/models/<name>`` ids, usage
    on the finishing chunk, Fireworks' error objects and capability flags in the listing."""

    prefix = "/inference/v1"

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events: list[Any] = [self.chunk(model, {"role": "assistant"})]
        events += [self.chunk(model, d) for d in deltas]
        last = self.chunk(model, {}, finish)
        last["usage"] = self.usage(usage)
        return [*events, last, self.done]

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        messages = {"auth": "The API key you provided is invalid.",
                    "not_found": "Model not found, inaccessible, and/or not deployed",
                    "rate_limit": "Request didn't generate first token before the given "
                                  "deadline or rate limit exceeded",
                    "overloaded": "Service temporarily unavailable",
                    "server": "Internal server error"}
        return {"error": {"object": "error", "type": "invalid_request_error"
                          if kind in ("auth", "not_found") else "internal_server_error",
                          "message": messages.get(kind, "error")}}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "owned_by": "fireworks", "created": 1700000000,
                 "kind": "HF_BASE_MODEL", "supports_chat": True, "supports_image_input": False,
                 "supports_tools": True, "context_length": 131072} for i in ids]
        server.add("GET", self.prefix + self.models_path,
                   Reply.json({"object": "list", "data": data}))


class TestFireworksConformance(ProviderConformance):
    provider = "fireworks"
    model = "accounts/fireworks/models/llama-v3p3-70b-instruct"
    secret = "fw_conformanceSECRET8f3a9c2b71"
    wire = FireworksWire()
