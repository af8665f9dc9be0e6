"""Portkey against the conformance suite: its auth header and both error shapes."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire


class PortkeyWire(OpenAIWire):
    """Portkey's gateway: ``x-portkey-api-key``; its own refusals as
    ``{"status": "failure", "message": ...}``; upstream errors passed through in the
    upstream's OpenAI shape with the ``provider`` that failed."""

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        body: dict[str, Any]
        headers = {"x-portkey-trace-id": "trace-8c1d"}
        if kind == "auth":
            body = {"status": "failure", "message": "Invalid API Key"}
        else:
            body = {"error": {**self.error_body(kind, status)["error"],
                              "message": f"openai error: fake {kind} error"},
                    "provider": "openai"}
        if kind == "rate_limit":
            headers["retry-after"] = "2"
        server.add("POST", self.route(), Reply.json(body, status=status, headers=headers))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("x-portkey-api-key") == secret


class TestPortkeyConformance(ProviderConformance):
    provider = "portkey"
    model = "gpt-4o-mini"
    wire = PortkeyWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {**super().provider_options(server), "virtual_key": "openai-vk-3f9a"}
