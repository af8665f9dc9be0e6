"""The embeddings conformance suite a plugin with the ``embed`` hook subclasses.

::

    from plugbay.testing.embed_conformance import EmbeddingConformance
    from plugbay.testing.embed_wire import OpenAIEmbedWire

    class TestOpenAIEmbeddings(EmbeddingConformance):
        provider = "openai"
        embed_model = "text-embedding-3-small"
        embed_wire = OpenAIEmbedWire()
        input_types = {}                  # the portable types and the wire value each sends

It runs ``client.embed`` through the installed entry point against a real fake server
that embeds in the provider's exact format, and checks: vectors in input order,
``dimensions`` honoured, batches of exactly the declared size, ``input_type`` mapped,
errors mapped, a wrong-shaped answer refused, an over-long input named by its index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest

import plugbay
from plugbay import errors
from plugbay.embed_batches import limits_for
from plugbay.embeddings import CHARS_PER_TOKEN_GENEROUS, EmbedLimits
from plugbay.testing.embed_wire import DEFAULT_DIMS, EmbedWire, fake_tokens, fake_vector
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, WRONG_SHAPES

__all__ = ["EmbeddingConformance"]

TEXTS = ["alpha", "beta gamma", "delta", "epsilon zeta eta", "theta"]


class EmbeddingConformance:
    provider: ClassVar[str]
    embed_model: ClassVar[str]
    embed_wire: ClassVar[EmbedWire]
    secret: ClassVar[str] = "sk-conformance-SECRET-8f3a9c2b71"
    supports_dimensions: ClassVar[bool] = True
    supports_usage: ClassVar[bool] = True
    # portable input_type -> the value the provider's own field must carry
    input_types: ClassVar[dict[str, Any]] = {}
    error_kinds: ClassVar[tuple[str, ...]] = tuple(ERROR_KINDS)

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "base_url": self.embed_wire.base_url(server.url)}

    def make_client(self, server: FakeServer) -> plugbay.Client:
        config = {"providers": {self.provider: self.provider_options(server)},
                  "routing": {"retries": 0}, "ledger": {"path": "off"}}
        return plugbay.Client(config, env={})

    @pytest.fixture
    def server(self) -> Iterator[FakeServer]:
        with FakeServer() as srv:
            yield srv

    @pytest.fixture
    async def client(self, server: FakeServer) -> AsyncIterator[plugbay.Client]:
        client = self.make_client(server)
        try:
            yield client
        finally:
            await client.aclose()

    @property
    def target(self) -> str:
        return f"{self.provider}/{self.embed_model}"

    def limits(self, client: plugbay.Client) -> EmbedLimits:
        return limits_for(client.targets.get(self.provider), self.embed_model)

    def sent(self, server: FakeServer) -> list[Any]:
        return [r for r in server.requests if self.embed_wire.is_embed(r)]

    # ------------------------------------------------------------ the tests

    async def test_embed_keeps_input_order(self, server: FakeServer,
                                           client: plugbay.Client) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        got = await client.aembed(self.target, TEXTS)
        assert got.vectors == [fake_vector(t, DEFAULT_DIMS) for t in TEXTS]
        assert got.provider == self.provider
        assert len(got) == len(TEXTS)
        if self.supports_usage:
            assert got.usage is not None
            assert got.usage.input_tokens == sum(
                fake_tokens(self.embed_wire.inputs_of(r)) for r in self.sent(server))
            if got.price is not None:
                assert got.cost is not None and got.cost.total >= 0
        assert all(self.embed_wire.auth_present(r, self.secret) for r in self.sent(server))

    async def test_dimensions_honoured(self, server: FakeServer,
                                       client: plugbay.Client) -> None:
        if not self.supports_dimensions:
            pytest.skip("the provider's models have one output size")
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        got = await client.aembed(self.target, TEXTS[:2], dimensions=4)
        assert [len(v) for v in got.vectors] == [4, 4]
        assert got.vectors == [fake_vector(t, 4) for t in TEXTS[:2]]
        assert {self.embed_wire.dimensions_of(r) for r in self.sent(server)} == {4}

    async def test_batching_is_exact(self, server: FakeServer, client: plugbay.Client) -> None:
        """A list longer than the declared batch goes in full batches and one remainder,
        in order, each request carrying exactly its slice."""
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        batch = self.limits(client).batch
        n = batch * 2 + 1 if batch <= 128 else batch + 3
        texts = [f"input number {i}" for i in range(n)]
        got = await client.aembed(self.target, texts, concurrency=1)
        seen = [self.embed_wire.inputs_of(r) for r in self.sent(server)]
        expect = [texts[i:i + batch] for i in range(0, n, batch)]
        assert seen == expect, f"batch sizes {[len(s) for s in seen]}, not " \
                               f"{[len(e) for e in expect]}"
        assert got.vectors == [fake_vector(t, DEFAULT_DIMS) for t in texts]
        assert got.extra["batches"] == len(expect)

    async def test_batches_in_parallel_keep_order(self, server: FakeServer,
                                                  client: plugbay.Client) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        batch = self.limits(client).batch
        if batch > 128:
            pytest.skip("a batch this large makes the test slow; test_batching_is_exact covers it")
        texts = [f"parallel {i}" for i in range(batch * 5)]
        got = await client.aembed(self.target, texts, concurrency=3)
        assert got.vectors == [fake_vector(t, DEFAULT_DIMS) for t in texts]
        assert sorted(len(self.embed_wire.inputs_of(r)) for r in self.sent(server)) == \
            [batch] * 5

    @pytest.mark.parametrize("portable", ["query", "document", "classification",
                                          "clustering", "similarity"])
    async def test_input_type_mapped(self, server: FakeServer, client: plugbay.Client,
                                     portable: str) -> None:
        if portable not in self.input_types:
            pytest.skip(f"the provider has no field for {portable!r}")
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        await client.aembed(self.target, TEXTS[:1], input_type=portable)
        assert self.embed_wire.input_type_of(self.sent(server)[-1]) == \
            self.input_types[portable]

    @pytest.mark.parametrize("kind", list(ERROR_KINDS))
    async def test_embed_error_mapping(self, server: FakeServer, client: plugbay.Client,
                                       kind: str) -> None:
        if kind not in self.error_kinds:
            pytest.skip(f"provider has no distinct {kind} error")
        status, name = ERROR_KINDS[kind]
        self.embed_wire.script_error(server, kind=kind, model=self.embed_model)
        with pytest.raises(errors.APIError) as caught:
            await client.aembed(self.target, TEXTS[:2])
        exc = caught.value
        assert isinstance(exc, getattr(errors, name)), f"{status} gave {type(exc).__name__}"
        assert exc.provider == self.provider
        assert exc.retryable is (kind in ("rate_limit", "server", "overloaded"))
        assert self.secret not in f"{exc} {exc!r} {exc.body!r}"

    @pytest.mark.parametrize("body", list(WRONG_SHAPES))
    async def test_wrong_shaped_200_is_malformed(self, server: FakeServer,
                                                 client: plugbay.Client, body: str) -> None:
        self.embed_wire.script_body(server, model=self.embed_model, body=WRONG_SHAPES[body])
        with pytest.raises(errors.MalformedResponseError) as caught:
            await client.aembed(self.target, TEXTS[:2])
        assert caught.value.provider == self.provider

    async def test_too_long_input_named_by_index(self, server: FakeServer,
                                                 client: plugbay.Client) -> None:
        most = self.limits(client).max_input_tokens
        if most is None:
            pytest.skip("the plugin declares no input length limit")
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        long = "word " * (most * CHARS_PER_TOKEN_GENEROUS // 5 + 10)
        with pytest.raises(errors.InputTooLongError) as caught:
            await client.aembed(self.target, ["short", "fine", long])
        assert caught.value.index == 2
        assert "input 2" in str(caught.value)
        assert self.sent(server) == [], "an input surely too long was sent anyway"

    def test_sync_embed(self, server: FakeServer) -> None:
        self.embed_wire.script_embeddings(server, model=self.embed_model)
        with self.make_client(server) as client:
            got = client.embed(self.target, "one text")
        assert got.vectors == [fake_vector("one text", DEFAULT_DIMS)]
