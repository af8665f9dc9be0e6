"""The local plugin against the conformance suite, with a wire speaking vLLM's dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire


class VLLMWire(OpenAIWire):
    """vLLM's OpenAI server: 401 ``{"error": "Unauthorized"}`` from its key middleware,
    the flat (older) error shape for the rest, ``max_model_len`` in the listing and an
    empty 200 on ``/health``."""

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        body: dict[str, Any]
        if kind == "auth":
            body = {"error": "Unauthorized"}
        elif kind == "not_found":
            body = {"object": "error", "message": f"The model `{model}x` does not exist.",
                    "type": "NotFoundError", "param": None, "code": 404}
        elif kind == "overloaded":
            body = {"error": {"code": 503, "message": "Loading model",
                              "type": "unavailable_error"}}
        else:
            body = {"object": "error", "message": "EngineCore encountered an issue.",
                    "type": "InternalServerError", "param": None, "code": 500}
        server.add("POST", self.route(), Reply.json(body, status=status))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created": 1700000000, "owned_by": "vllm",
                 "root": f"/models/{i}", "parent": None, "max_model_len": 32768,
                 "permission": []} for i in ids]
        server.add("GET", "/v1/models", Reply.json({"object": "list", "data": data}))
        server.add("GET", "/health", Reply.raw(b"", content_type="application/json"))


class TestLocalConformance(ProviderConformance):
    provider = "local"
    model = "Qwen/Qwen3-8B"
    wire = VLLMWire()
    # A self-hosted server has no rate limiter of its own.
    error_kinds = ("auth", "not_found", "server", "overloaded")
