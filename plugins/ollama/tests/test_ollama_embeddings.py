"""Ollama embeddings (native ``POST /api/embed``) against the embeddings conformance suite,
and the documented example answer of ``api.md`` in ../shared/corpus parsed as sent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import EmbedWire, fake_tokens, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS

API_MD = (Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "ollama"
          / "ollama+ollama" / "api.md")


class OllamaEmbedWire(EmbedWire):
    path = "/api/embed"

    def answer(self, request: RecordedRequest, model: str) -> Reply:
        body = request.json()
        inputs = self.inputs_of(request)
        dims = body.get("dimensions") or 8
        return Reply.json({"model": model, "embeddings": [fake_vector(t, dims) for t in inputs],
                           "total_duration": 14143917, "load_duration": 1019500,
                           "prompt_eval_count": fake_tokens(inputs)})

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", self.path, lambda req: self.answer(req, model))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        message = {"auth": "unauthorized", "not_found": f"model '{model}' not found",
                   "rate_limit": "too many requests", "overloaded": "server busy, please try "
                   "again. maximum pending requests exceeded"}.get(kind, "embedding failed")
        headers = {"retry-after": "1"} if kind == "rate_limit" else None
        server.add("POST", self.path, Reply.json({"error": message},
                                                 status=ERROR_KINDS[kind][0], headers=headers))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", self.path, Reply.raw(body, "application/json"))

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        sent = request.json()["input"]
        return [sent] if isinstance(sent, str) else list(sent)

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        return request.json().get("dimensions")

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {secret}"


class TestOllamaEmbeddings(EmbeddingConformance):
    provider = "ollama"
    embed_model = "all-minilm"
    embed_wire = OllamaEmbedWire()

    async def test_never_truncates_silently(self, server: FakeServer, client: Any) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, ["a"])
        assert server.last.json()["truncate"] is False


def test_documented_example_answer_parses(fake_server: FakeServer) -> None:
    """The multiple-input example response of Ollama's api.md, served byte for byte."""
    if not API_MD.exists():
        pytest.skip("../shared/corpus is absent")
    section = API_MD.read_text().split("#### Request (Multiple input)", 1)[1]
    answer = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    fake_server.add("POST", "/api/embed", Reply.json(answer))
    with plugbay.Client({"providers": {"ollama": {"base_url": fake_server.url}},
                         "ledger": {"path": "off"}}, env={}) as client:
        got = client.embed("ollama/all-minilm", ["Why is the sky blue?",
                                                 "Why is the grass green?"])
    assert got.vectors == answer["embeddings"]
    assert got.dimensions == 10
    assert fake_server.last.json()["input"] == ["Why is the sky blue?",
                                                "Why is the grass green?"]
