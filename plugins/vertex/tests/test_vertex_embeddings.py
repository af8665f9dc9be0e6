"""Vertex AI embeddings (the ``:predict`` form) against the embeddings conformance suite,
with Google OAuth from a fake service-account token endpoint: text-embedding-005 (250
instances a request) and gemini-embedding-001 (one)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from plugbay_vertex.testing import FakeGoogleOAuth

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import EmbedWire, fake_tokens, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS

PROJECT, LOCATION = "emb-project", "us-central1"
PREDICT = re.compile(rf"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/"
                     r"models/([^/:]+):predict")
RPC = {"auth": "UNAUTHENTICATED", "not_found": "NOT_FOUND", "rate_limit": "RESOURCE_EXHAUSTED",
       "server": "INTERNAL", "overloaded": "UNAVAILABLE"}


class VertexEmbedWire(EmbedWire):
    def answer(self, request: RecordedRequest) -> Reply:
        body = request.json()
        dims = body["parameters"].get("outputDimensionality") or 8
        assert body["parameters"]["autoTruncate"] is False
        return Reply.json({"predictions": [
            {"embeddings": {"values": fake_vector(i["content"], dims),
                            "statistics": {"token_count": fake_tokens([i["content"]]),
                                           "truncated": False}}}
            for i in body["instances"]]})

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", PREDICT, self.answer)

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        server.add("POST", PREDICT, Reply.json({"error": {
            "code": status, "message": f"fake {kind} error", "status": RPC[kind]}},
            status=status))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", PREDICT, Reply.raw(body, "application/json"))

    def is_embed(self, request: RecordedRequest) -> bool:
        return PREDICT.fullmatch(request.path) is not None

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        return [i["content"] for i in request.json()["instances"]]

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        return request.json()["parameters"].get("outputDimensionality")

    def input_type_of(self, request: RecordedRequest) -> Any:
        return request.json()["instances"][0].get("task_type")


class VertexEmbeddings(EmbeddingConformance):
    provider = "vertex"
    embed_wire = VertexEmbedWire()
    secret = "ya29.embeddings-SECRET-c41d"
    input_types = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT",
                   "similarity": "SEMANTIC_SIMILARITY", "classification": "CLASSIFICATION",
                   "clustering": "CLUSTERING"}
    _tmp = Path(tempfile.mkdtemp(prefix="plugbay-vertex-embed-"))

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        oauth = FakeGoogleOAuth(server, project=PROJECT, tokens=iter([self.secret] * 1000))
        folder = self._tmp / str(server.port)
        folder.mkdir(exist_ok=True)
        return {"base_url": server.url, "location": LOCATION,
                "credentials_file": str(oauth.write_service_account(folder))}


class TestVertexTextEmbeddings(VertexEmbeddings):
    embed_model = "text-embedding-005"


class TestVertexGeminiEmbeddings(VertexEmbeddings):
    embed_model = "gemini-embedding-001"
