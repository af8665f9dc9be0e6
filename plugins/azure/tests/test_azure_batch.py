"""Azure OpenAI batch jobs (Files + /openai/batches) against the batch conformance suite,
in the classic URL style (api-version query) and the v1 one."""

from __future__ import annotations

from typing import Any

from plugbay.testing.batch_conformance import BatchConformance
from plugbay.testing.batch_fakes import BatchFake, BatchScenario, OpenAIBatchFake
from plugbay.testing.server import FakeServer

API_VERSION = "2024-10-21"
DEPLOYMENT = "batch-deploy"


class AzureBatchFake(OpenAIBatchFake):
    """Azure's Batch API: OpenAI's, under /openai, lines naming the deployment."""

    endpoint = "/chat/completions"
    answer_model = "gpt-4o-mini-2024-07-18"  # Azure answers with the base model

    def line_ok(self, item: dict[str, Any]) -> bool:
        return super().line_ok(item) and item["body"]["model"] == DEPLOYMENT


class TestAzureBatchClassic(BatchConformance):
    provider = "azure"
    model = "gpt-4o-mini"
    fake = AzureBatchFake

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "endpoint": server.url, "api_version": API_VERSION,
                "deployments": {self.model: DEPLOYMENT}}

    def install(self, fake: BatchFake, server: FakeServer) -> None:
        fake.install(server, prefix="/openai")

    async def test_urls_of_this_style(self, client: Any,
                                                      server: FakeServer) -> None:
        """Classic: /openai/... with the api-version query on every request."""
        await self.run(client, server, BatchScenario())
        assert server.requests and all(
            r.query.get("api-version") == [API_VERSION] for r in server.requests)
        assert all(r.headers.get("api-key") == self.secret for r in server.requests)


class TestAzureBatchV1(TestAzureBatchClassic):
    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "endpoint": server.url + "/openai/v1",
                "deployments": {self.model: DEPLOYMENT}}

    def install(self, fake: BatchFake, server: FakeServer) -> None:
        fake.install(server, prefix="/openai/v1")

    async def test_urls_of_this_style(self, client: Any,
                                                      server: FakeServer) -> None:
        """v1: /openai/v1/... and no api-version."""
        await self.run(client, server, BatchScenario())
        assert server.requests and all(r.path.startswith("/openai/v1/") and not r.query
                   for r in server.requests)
