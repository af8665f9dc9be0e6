"""OpenAI embeddings against the embeddings conformance suite (base64 on the wire)."""

from plugbay.testing.embed_conformance import EmbeddingConformance
from plugbay.testing.embed_wire import OpenAIEmbedWire
from plugbay.testing.server import FakeServer


class TestOpenAIEmbeddings(EmbeddingConformance):
    provider = "openai"
    embed_model = "text-embedding-3-small"
    embed_wire = OpenAIEmbedWire()


async def test_floats_travel_as_base64_and_base64_is_kept(fake_server: FakeServer) -> None:
    """The plugin asks for base64 and decodes it; a caller asking for base64 gets the
    strings untouched."""
    import plugbay

    wire = OpenAIEmbedWire()
    wire.script_embeddings(fake_server, model="text-embedding-3-small")
    async with plugbay.Client({"providers": {"openai": {
            "api_key": "k", "base_url": wire.base_url(fake_server.url)}},
            "ledger": {"path": "off"}}, env={}) as client:
        floats = await client.aembed("openai/text-embedding-3-small", ["a"])
        assert fake_server.last.json()["encoding_format"] == "base64"
        assert isinstance(floats.vectors[0][0], float)
        raw = await client.aembed("openai/text-embedding-3-small", ["a"], encoding="base64")
        assert isinstance(raw.vectors[0], str)
