"""DeepInfra embeddings against the embeddings conformance suite: OpenAI's /embeddings under
``/v1/openai``."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire


class DeepInfraEmbedWire(OpenAIEmbedWire):
    prefix = "/v1/openai"


class TestDeepInfraEmbeddings(EmbeddingConformance):
    provider = "deepinfra"
    embed_model = "BAAI/bge-large-en-v1.5"
    embed_wire = DeepInfraEmbedWire()
