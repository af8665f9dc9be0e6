"""Azure OpenAI embeddings against the embeddings conformance suite: the classic
deployment URL (``/openai/deployments/{deployment}/embeddings?api-version=``, key in
``api-key``) and the v1 URL (``/openai/v1/embeddings``, the deployment in the body)."""

from __future__ import annotations

from typing import Any

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire
from plugbay.testing.server import FakeServer, RecordedRequest

DEPLOYMENT = "embed-deploy"


class AzureEmbedWire(OpenAIEmbedWire):
    prefix = ""

    def route(self, model: str) -> str:
        return f"/openai/deployments/{DEPLOYMENT}/embeddings"

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("api-key") == secret


class AzureV1EmbedWire(OpenAIEmbedWire):
    prefix = ""

    def route(self, model: str) -> str:
        return "/openai/v1/embeddings"

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return (request.headers.get("api-key") == secret
                and request.json()["model"] == DEPLOYMENT)


class TestAzureEmbeddings(EmbeddingConformance):
    provider = "azure"
    embed_model = "text-embedding-3-small"
    embed_wire = AzureEmbedWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "endpoint": server.url, "api_version": "2024-10-21",
                "deployments": {self.embed_model: DEPLOYMENT}}

    async def test_api_version_in_query(self, server: FakeServer, client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["a"])
        assert server.last.query["api-version"] == ["2024-10-21"]


class TestAzureV1Embeddings(EmbeddingConformance):
    provider = "azure"
    embed_model = "text-embedding-3-small"
    embed_wire = AzureV1EmbedWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "endpoint": server.url, "api": "v1",
                "deployments": {self.embed_model: DEPLOYMENT}}
