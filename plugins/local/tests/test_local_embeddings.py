"""Local embeddings against the embeddings conformance suite: OpenAI's /embeddings under
``/v1``."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire


class LocalEmbedWire(OpenAIEmbedWire):
    prefix = "/v1"


class TestLocalEmbeddings(EmbeddingConformance):
    provider = "local"
    embed_model = "nomic-embed-text"
    embed_wire = LocalEmbedWire()
