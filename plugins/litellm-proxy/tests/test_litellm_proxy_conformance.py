"""A LiteLLM proxy against the conformance suite, with LiteLLM's error dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire


class LiteLLMWire(OpenAIWire):
    """Routes without ``/v1`` (the proxy serves both); errors with the status as a string
    ``code`` and LiteLLM's exception name leading the message."""

    prefix = ""

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        message, kind_ = {
            "auth": ("Authentication Error, Invalid proxy server token passed. Received API "
                     "Key = sk-...7f, Key Hash (Token) =4a1b. Unable to find token in cache "
                     "or `LiteLLM_VerificationTokenTable`", "auth_error"),
            "not_found": ("litellm.NotFoundError: OpenAIException - The model `gpt-9` does "
                          "not exist. Received Model Group=gpt-9\nAvailable Model Group "
                          "Fallbacks=None", None),
            "rate_limit": ("litellm.RateLimitError: RateLimitError: OpenAIException - Rate "
                           "limit reached for gpt-4o-mini", "throttling_error"),
            "overloaded": ("litellm.ServiceUnavailableError: AnthropicException - "
                           "Service Unavailable", None),
        }.get(kind, ("litellm.InternalServerError: InternalServerError: OpenAIException - "
                     "upstream connection reset", "internal_server_error"))
        return {"error": {"message": message, "type": kind_, "param": None,
                          "code": str(status)}}

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        headers = {"retry-after": "3"} if kind == "rate_limit" else {}
        server.add("POST", self.route(), Reply.json(self.error_body(kind, status),
                                                    status=status, headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created": 1677610602, "owned_by": "openai"}
                for i in ids]
        server.add("GET", "/models", Reply.json({"data": data, "object": "list"}))


class TestLiteLLMProxyConformance(ProviderConformance):
    provider = "litellm-proxy"
    model = "gpt-4o-mini"
    wire = LiteLLMWire()
