"""Novita embeddings against the embeddings conformance suite: OpenAI's /embeddings under
``/openai/v1``."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire


class NovitaEmbedWire(OpenAIEmbedWire):
    prefix = "/openai/v1"


class TestNovitaEmbeddings(EmbeddingConformance):
    provider = "novita"
    embed_model = "baai/bge-m3"
    embed_wire = NovitaEmbedWire()
