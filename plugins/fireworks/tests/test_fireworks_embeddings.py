"""Fireworks embeddings against the embeddings conformance suite: OpenAI's /embeddings under
``/inference/v1``."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire


class FireworksEmbedWire(OpenAIEmbedWire):
    prefix = "/inference/v1"


class TestFireworksEmbeddings(EmbeddingConformance):
    provider = "fireworks"
    embed_model = "nomic-ai/nomic-embed-text-v1.5"
    embed_wire = FireworksEmbedWire()
