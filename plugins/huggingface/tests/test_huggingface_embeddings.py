"""Hugging Face embeddings (the router's hf-inference feature-extraction pipeline) against
the embeddings conformance suite."""

from __future__ import annotations

import re

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import EmbedWire, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS

PATH = re.compile(r"/hf-inference/models/(.+)/pipeline/feature-extraction")


class HFEmbedWire(EmbedWire):
    def base_url(self, server_url: str) -> str:
        return server_url + "/v1"

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", PATH, lambda req: Reply.json(
            [fake_vector(t, 8) for t in self.inputs_of(req)]))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        headers = {"retry-after": "1"} if kind == "rate_limit" else None
        server.add("POST", PATH, Reply.json({"error": f"fake {kind} error"},
                                            status=ERROR_KINDS[kind][0], headers=headers))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", PATH, Reply.raw(body, "application/json"))

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        return list(request.json()["inputs"])

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        return None


class TestHuggingFaceEmbeddings(EmbeddingConformance):
    provider = "huggingface"
    embed_model = "BAAI/bge-small-en-v1.5"
    embed_wire = HFEmbedWire()
    supports_dimensions = False
    supports_usage = False
    error_kinds = ("auth", "rate_limit", "server", "overloaded")  # a 404 names no model

    async def test_model_in_the_path(self, server: FakeServer, client) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["a"])
        assert server.last.path == "/hf-inference/models/BAAI/bge-small-en-v1.5/pipeline/" \
                                   "feature-extraction"
