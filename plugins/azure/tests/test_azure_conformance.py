"""Azure OpenAI against the conformance suite: classic deployments with an api-key, and
the v1 API with Entra ID bearer tokens from a credential object; each again on the
Responses API (a Responses-only base model, and one forced there by ``wire_api``)."""

from __future__ import annotations

import re
import time
from typing import Any, NamedTuple

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire, ResponsesWire

API_VERSION = "2024-10-21"
DEPLOYMENT = "conf-deploy"


class AzureWire(OpenAIWire):
    """Azure's classic data plane: the deployment in the path, api-version in the query."""

    prefix = ""
    key_header = "api-key"

    def base_url(self, server_url: str) -> str:
        return server_url  # the resource endpoint; the plugin adds /openai/...

    def route(self) -> str:
        return f"/openai/deployments/{DEPLOYMENT}/chat/completions"

    def models_route(self) -> str:
        return "/openai/models"

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        code = {"auth": "401", "not_found": "DeploymentNotFound", "rate_limit": "429",
                "server": "InternalServerError", "overloaded": "ServiceUnavailable"}[kind]
        return {"error": {"code": code, "message": f"fake azure {kind} error"}}

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        headers = {"apim-request-id": "apim-fake"}
        if kind == "rate_limit":
            headers.update({"retry-after": "2", "x-ratelimit-remaining-requests": "0"})
        server.add("POST", self.route(), Reply.json(self.error_body(kind, status), status=status,
                                                    headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created_at": 1700000000, "status": "succeeded",
                 "capabilities": {"chat_completion": True}, "lifecycle_status":
                     "generally-available"} for i in ids]
        server.add("GET", self.models_route(), Reply.json({"object": "list", "data": data}))

    def version_ok(self, request: RecordedRequest) -> bool:
        return request.query.get("api-version") == [API_VERSION]

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get(self.key_header) == secret and self.version_ok(request)


class TestAzureConformance(ProviderConformance):
    provider = "azure"
    model = "gpt-4o-mini"
    wire = AzureWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "endpoint": server.url,
                "deployments": {self.model: DEPLOYMENT}}


class FakeAccessToken(NamedTuple):
    token: str
    expires_on: int


class SecretCredential:
    """A credential whose token is the conformance secret (so leaks can be checked)."""

    def __init__(self, token: str) -> None:
        self.value = token

    def get_token(self, *scopes: str, **kwargs: Any) -> FakeAccessToken:
        return FakeAccessToken(self.value, int(time.time()) + 3600)


class AzureV1Wire(AzureWire):
    """The v1 API: no api-version, the deployment in the body, Entra bearer tokens."""

    def route(self) -> str:
        return "/openai/v1/chat/completions"

    def models_route(self) -> str:
        return "/openai/v1/models"

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        body_ok = request.method != "POST" or request.json().get("model") == DEPLOYMENT
        return (request.headers.get("authorization") == f"Bearer {secret}"
                and "api-version" not in request.query and "api-key" not in request.headers
                and body_ok)

    def script_outage(self, server: FakeServer) -> None:
        server.add("GET", re.compile(r".*"), Reply.json({"error": {"message": "down"}},
                                                        status=500))
        super().script_outage(server)


class TestAzureV1EntraConformance(ProviderConformance):
    provider = "azure"
    model = "gpt-4o-mini"
    wire = AzureV1Wire()
    secret = "entra-conformance-TOKEN-5d1e7a"

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"endpoint": server.url + "/openai/v1", "credential": SecretCredential(
            self.secret), "deployments": {self.model: {"deployment": DEPLOYMENT,
                                                       "model": "gpt-4o-mini"}}}


class AzureResponsesWire(ResponsesWire, AzureWire):
    """Classic Responses: ``/openai/responses?api-version=<a preview>``, the deployment in
    the body."""

    def route(self) -> str:
        return "/openai/responses"

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return (request.headers.get(self.key_header) == secret
                and request.query.get("api-version") == ["2025-04-01-preview"]
                and request.json().get("model") == DEPLOYMENT)


class TestAzureResponsesConformance(ProviderConformance):
    provider = "azure"
    model = "gpt-5-pro"
    wire = AzureResponsesWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "endpoint": server.url,
                "deployments": {self.model: DEPLOYMENT}}


class AzureV1ResponsesWire(ResponsesWire, AzureV1Wire):
    def route(self) -> str:
        return "/openai/v1/responses"


class TestAzureV1EntraResponsesConformance(TestAzureV1EntraConformance):
    wire = AzureV1ResponsesWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {**super().provider_options(server), "wire_api": "responses"}
