"""Together embeddings against the embeddings conformance suite: OpenAI's /embeddings under
``/v1``."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire


class TogetherEmbedWire(OpenAIEmbedWire):
    prefix = "/v1"


class TestTogetherEmbeddings(EmbeddingConformance):
    provider = "together"
    embed_model = "BAAI/bge-base-en-v1.5"
    embed_wire = TogetherEmbedWire()
