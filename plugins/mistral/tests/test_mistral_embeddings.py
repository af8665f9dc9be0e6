"""Mistral embeddings against the embeddings conformance suite: /v1/embeddings with its own
field names (output_dimension, output_dtype)."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire, fake_int_vector
from plugbay.testing.server import FakeServer


class MistralEmbedWire(OpenAIEmbedWire):
    dimensions_field = "output_dimension"
    dtype_field = "output_dtype"


class TestMistralEmbeddings(EmbeddingConformance):
    provider = "mistral"
    embed_model = "codestral-embed"
    embed_wire = MistralEmbedWire()

    async def test_int8_asked_as_output_dtype(self, server: FakeServer, client) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        got = await client.aembed(self.target, ["a", "b"], encoding="int8", dimensions=6)
        assert server.last.json()["output_dtype"] == "int8"
        assert got.vectors == [fake_int_vector("a", 6), fake_int_vector("b", 6)]
        assert got.encoding == "int8"
