"""Gemini embeddings against the embeddings conformance suite: ``:embedContent`` for one
input, ``:batchEmbedContents`` for more, ``taskType`` and ``outputDimensionality``, and
google.rpc errors (as the chat conformance wire scripts them)."""

from __future__ import annotations

import re
from typing import Any

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import EmbedWire, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS

PATH = re.compile(r"/v1beta/models/([^/:]+):(embedContent|batchEmbedContents)")


def _requests(request: RecordedRequest) -> list[dict[str, Any]]:
    body = request.json()
    return body.get("requests", [body])


class GeminiEmbedWire(EmbedWire):
    def base_url(self, server_url: str) -> str:
        return server_url + "/v1beta"

    def answer(self, request: RecordedRequest, model: str) -> Reply:
        match = PATH.fullmatch(request.path)
        assert match is not None and match.group(1) == model
        many = match.group(2) == "batchEmbedContents"
        vectors = [{"values": fake_vector(r["content"]["parts"][0]["text"],
                                          r.get("outputDimensionality") or 8)}
                   for r in _requests(request)]
        if many:
            assert all(r["model"] == f"models/{model}" for r in _requests(request))
            return Reply.json({"embeddings": vectors})
        assert len(vectors) == 1, "embedContent carries one input"
        return Reply.json({"embedding": vectors[0]})

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", PATH, lambda req: self.answer(req, model))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        rpc, details = {  # a bad key is a 400 INVALID_ARGUMENT, reason API_KEY_INVALID
            "auth": ("INVALID_ARGUMENT", [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                           "reason": "API_KEY_INVALID"}]),
            "not_found": ("NOT_FOUND", []),
            "rate_limit": ("RESOURCE_EXHAUSTED", [{
                "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}]),
            "server": ("INTERNAL", []), "overloaded": ("UNAVAILABLE", [])}[kind]
        status = 400 if kind == "auth" else status
        server.add("POST", PATH, Reply.json({"error": {
            "code": status, "message": f"fake {kind} error", "status": rpc,
            "details": details}}, status=status))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", PATH, Reply.raw(body, "application/json"))

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        return [r["content"]["parts"][0]["text"] for r in _requests(request)]

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        return _requests(request)[0].get("outputDimensionality")

    def input_type_of(self, request: RecordedRequest) -> Any:
        return _requests(request)[0].get("taskType")

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("x-goog-api-key") == secret


class TestGeminiEmbeddings(EmbeddingConformance):
    provider = "gemini"
    embed_model = "gemini-embedding-001"
    embed_wire = GeminiEmbedWire()
    supports_usage = False  # the Gemini API reports no tokens for embeddings
    input_types = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT",
                   "similarity": "SEMANTIC_SIMILARITY", "classification": "CLASSIFICATION",
                   "clustering": "CLUSTERING"}

    async def test_one_input_uses_embed_content(self, server: FakeServer, client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["only one"])
        assert server.last.path.endswith(":embedContent")
        await client.aembed(self.target, ["one", "two"])
        assert server.last.path.endswith(":batchEmbedContents")

    async def test_own_task_type_passes_through(self, server: FakeServer, client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["def f(): pass"], input_type="CODE_RETRIEVAL_QUERY")
        assert server.last.json()["taskType"] == "CODE_RETRIEVAL_QUERY"
