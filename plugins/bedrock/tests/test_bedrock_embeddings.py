"""Bedrock embeddings through ``InvokeModel`` against the embeddings conformance suite,
behind a fake that checks SigV4: Titan Text Embeddings V2 (one input a request) and
Cohere Embed v3 (96 texts, input_type, int8, the token count in a header)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from bedrock_fakes import aws_error, signed

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import EmbedWire, fake_int_vector, fake_tokens, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
INVOKE = re.compile(r"/model/([^/]+)/invoke")
ERRORS = {
    "auth": ("UnrecognizedClientException", "The security token is invalid.", 403),
    "not_found": ("ResourceNotFoundException", "Model not found.", 404),
    "rate_limit": ("ThrottlingException", "Too many requests.", 429),
    "server": ("InternalServerException", "An internal server error occurred.", 500),
    "overloaded": ("ServiceUnavailableException", "The service is unavailable.", 503),
}


class BedrockEmbedWire(EmbedWire):
    def guard(self, reply: Any) -> Any:
        return signed(reply, {ACCESS_KEY: SECRET}, region=REGION)

    def answer(self, request: RecordedRequest) -> Reply:
        body = request.json()
        if "texts" in body:  # Cohere Embed v3
            kind = (body.get("embedding_types") or ["float"])[0]
            make = fake_vector if kind == "float" else fake_int_vector
            return Reply.json(
                {"id": "emb-1", "response_type": "embeddings_by_type", "texts": body["texts"],
                 "embeddings": {kind: [make(t, 8) for t in body["texts"]]}},
                headers={"X-Amzn-Bedrock-Input-Token-Count": str(fake_tokens(body["texts"])),
                         "x-amzn-RequestId": "req-emb"})
        text, dims = body["inputText"], body.get("dimensions") or 8
        vector = fake_vector(text, dims)
        return Reply.json({"embedding": vector, "embeddingsByType": {"float": vector},
                           "inputTextTokenCount": fake_tokens([text])},
                          headers={"x-amzn-RequestId": "req-emb"})

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", INVOKE, self.guard(self.answer))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        server.add("POST", INVOKE, self.guard(aws_error(*ERRORS[kind])))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", INVOKE, self.guard(Reply.raw(body, "application/json")))

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        body = request.json()
        return list(body["texts"]) if "texts" in body else [body["inputText"]]

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        return request.json().get("dimensions")

    def input_type_of(self, request: RecordedRequest) -> Any:
        return request.json().get("input_type")

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("authorization", "").startswith(
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")


class BedrockEmbeddings(EmbeddingConformance):
    provider = "bedrock"
    embed_wire = BedrockEmbedWire()
    secret = SECRET

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET,
                "region": REGION, "base_url": server.url, "control_base_url": server.url}


class TestBedrockTitanEmbeddings(BedrockEmbeddings):
    embed_model = "amazon.titan-embed-text-v2:0"

    async def test_one_input_a_request_normalized(self, server: FakeServer,
                                                  client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["a", "b", "c"])
        assert sorted(r.json()["inputText"] for r in server.requests) == ["a", "b", "c"]
        assert all(r.json()["normalize"] is True for r in server.requests)
        assert server.last.path == "/model/amazon.titan-embed-text-v2%3A0/invoke"


class TestBedrockCohereEmbeddings(BedrockEmbeddings):
    embed_model = "cohere.embed-english-v3"
    supports_dimensions = False
    input_types = {"query": "search_query", "document": "search_document",
                   "classification": "classification", "clustering": "clustering"}

    async def test_int8_and_never_truncated(self, server: FakeServer, client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        got = await client.aembed(self.target, ["a", "b"], encoding="int8")
        sent = server.last.json()
        assert (sent["embedding_types"], sent["truncate"]) == (["int8"], "NONE")
        assert got.vectors == [fake_int_vector("a", 8), fake_int_vector("b", 8)]
        assert got.usage is not None and got.usage.input_tokens == fake_tokens(["a", "b"])

    async def test_dimensions_refused(self, server: FakeServer, client: Any) -> None:
        from plugbay import errors

        with pytest.raises(errors.InvalidRequestError, match="dimensions"):
            await client.aembed(self.target, ["a"], dimensions=4)
        assert json.dumps([r.path for r in server.requests]) == "[]"
