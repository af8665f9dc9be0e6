"""Cohere embeddings (v2 ``POST /v2/embed``) against the embeddings conformance suite:
``texts``, ``input_type``, ``embedding_types`` (int8 and binary too), ``output_dimension``,
billed units, and ``{"id", "message"}`` errors."""

from __future__ import annotations

from typing import Any

import pytest

from plugbay import errors
from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import EmbedWire, fake_int_vector, fake_tokens, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS

PATH = "/v2/embed"


class CohereEmbedWire(EmbedWire):
    def answer(self, request: RecordedRequest) -> Reply:
        body = request.json()
        texts = body["texts"]
        dims = body.get("output_dimension") or 8
        kinds = body.get("embedding_types") or ["float"]
        by_type: dict[str, Any] = {}
        for kind in kinds:
            if kind == "float":
                by_type[kind] = [fake_vector(t, dims) for t in texts]
            elif kind in ("binary", "ubinary"):  # packed: one value per 8 dimensions
                by_type[kind] = [fake_int_vector(t, dims // 8) for t in texts]
            else:
                by_type[kind] = [fake_int_vector(t, dims) for t in texts]
        return Reply.json({"id": "emb-fake", "embeddings": by_type, "texts": texts,
                           "meta": {"api_version": {"version": "2"},
                                    "billed_units": {"input_tokens": fake_tokens(texts)}},
                           "response_type": "embeddings_by_type"})

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", PATH, self.answer)

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        message = {"auth": "invalid api token", "not_found": f"model '{model}' not found",
                   "rate_limit": "You are using a Trial key, which is limited to 100 API "
                                 "calls / minute."}.get(kind, "internal server error")
        headers = {"retry-after": "3"} if kind == "rate_limit" else {}
        server.add("POST", PATH, Reply.json({"id": "err-fake", "message": message},
                                            status=ERROR_KINDS[kind][0], headers=headers))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", PATH, Reply.raw(body, "application/json"))

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        return list(request.json()["texts"])

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        return request.json().get("output_dimension")

    def input_type_of(self, request: RecordedRequest) -> Any:
        return request.json().get("input_type")


class TestCohereEmbeddings(EmbeddingConformance):
    provider = "cohere"
    embed_model = "embed-english-v3.0"
    embed_wire = CohereEmbedWire()
    input_types = {"query": "search_query", "document": "search_document",
                   "classification": "classification", "clustering": "clustering"}

    @pytest.mark.parametrize("kind,width", [("int8", 16), ("uint8", 16), ("binary", 2),
                                            ("ubinary", 2)])
    async def test_integer_embedding_types(self, server: FakeServer, client: Any, kind: str,
                                           width: int) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        got = await client.aembed(self.target, ["a", "b"], encoding=kind, dimensions=16)
        assert server.last.json()["embedding_types"] == [kind]
        assert got.vectors == [fake_int_vector("a", width), fake_int_vector("b", width)]

    async def test_document_by_default_and_never_truncated(self, server: FakeServer,
                                                           client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["a"])
        assert server.last.json()["input_type"] == "search_document"
        assert server.last.json()["truncate"] == "NONE"

    async def test_similarity_refused_before_sending(self, server: FakeServer,
                                                     client: Any) -> None:
        with pytest.raises(errors.InvalidRequestError, match="similarity"):
            await client.aembed(self.target, ["a"], input_type="similarity")
        assert server.requests == []
