"""``client.embed`` goes through the same pipeline as a completion: one ledger row per
batch with its cost, the response cache, direct-call retries, routes (failover for the
first batch, then pinned to the model that answered), hard budgets, host layers; and the
typed errors (no embed hook, an over-long input named by its index). Real servers on
127.0.0.1 speak OpenAI's /v1/embeddings; state lives in real SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.pipeline import Layer
from plugbay.testing.embed_wire import OpenAIEmbedWire, fake_tokens, fake_vector
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(60)
pytest.importorskip("plugbay_openai")
MODEL = "text-embedding-3-small"
WIRE = OpenAIEmbedWire()
TEXTS = [f"text {i} " + "x" * i for i in range(5)]


def config(server: FakeServer, tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {"providers": {"openai": {"api_key": "sk-test", "base_url": WIRE.base_url(server.url),
                                     "embed_batch": 2}},
            "ledger": {"path": str(tmp_path / "ledger.db")}, **more}


async def test_one_ledger_row_per_batch_with_its_cost(fake_server: FakeServer,
                                                      tmp_path: Path) -> None:
    WIRE.script_embeddings(fake_server, model=MODEL)
    async with plugbay.Client(config(fake_server, tmp_path), env={}) as client:
        got = await client.aembed(f"openai/{MODEL}", TEXTS, tags={"job": "index"})
        rows = client.ledger.fetch()
    assert got.vectors == [fake_vector(t, 8) for t in TEXTS]
    batches = [TEXTS[0:2], TEXTS[2:4], TEXTS[4:5]]
    assert sorted(r.input_tokens for r in rows) == sorted(fake_tokens(b) for b in batches)
    assert all(r.output_tokens == 0 and r.model == MODEL and r.tags == {"job": "index"}
               for r in rows)
    tokens = sum(fake_tokens(b) for b in batches)
    assert got.usage is not None and got.usage.input_tokens == tokens
    assert got.cost is not None and got.cost.total == pytest.approx(tokens * 0.02 / 1e6)
    assert sum(r.cost or 0 for r in rows) == pytest.approx(got.cost.total)


async def test_cache_answers_a_repeat_without_the_provider(fake_server: FakeServer,
                                                           tmp_path: Path) -> None:
    WIRE.script_embeddings(fake_server, model=MODEL)
    cfg = config(fake_server, tmp_path, cache={"backend": "memory"})
    async with plugbay.Client(cfg, env={}) as client:
        first = await client.aembed(f"openai/{MODEL}", TEXTS)
        sent = len(fake_server.requests)
        again = await client.aembed(f"openai/{MODEL}", TEXTS)
        other = await client.aembed(f"openai/{MODEL}", TEXTS, dimensions=4)
        rows = client.ledger.fetch()
    assert sent == 3 and again.vectors == first.vectors
    assert len(fake_server.requests) == 6, "a different dimensions is a different entry"
    assert [len(v) for v in other.vectors] == [4] * 5
    assert [r.cache for r in rows].count("hit") == 3
    assert all(r.cost == 0 for r in rows if r.cache == "hit")


async def test_direct_calls_retry_a_5xx(fake_server: FakeServer, tmp_path: Path) -> None:
    fake_server.add("POST", "/v1/embeddings",
                    Reply.json({"error": {"message": "busy"}}, status=503),
                    lambda req: WIRE.answer(req, MODEL))
    cfg = config(fake_server, tmp_path, routing={"backoff_base": 0.01})
    async with plugbay.Client(cfg, env={}) as client:
        got = await client.aembed(f"openai/{MODEL}", TEXTS[:2])
    assert got.vectors == [fake_vector(t, 8) for t in TEXTS[:2]]
    assert len(fake_server.requests) == 2


async def test_a_route_fails_over_then_pins_the_rest(tmp_path: Path) -> None:
    with FakeServer() as down, FakeServer() as up:
        down.add("POST", "/v1/embeddings", Reply.json({"error": {"message": "x"}}, status=500))
        WIRE.script_embeddings(up, model=MODEL)
        providers = {name: {"plugin": "openai", "api_key": "k", "embed_batch": 2,
                            "base_url": WIRE.base_url(srv.url)}
                     for name, srv in (("oa-down", down), ("oa-up", up))}
        cfg = {"providers": providers, "ledger": {"path": str(tmp_path / "l.db")},
               "routing": {"retries": 0},
               "routes": {"emb": {"strategy": "priority",
                                  "targets": [f"oa-down/{MODEL}", f"oa-up/{MODEL}"]}}}
        async with plugbay.Client(cfg, env={}) as client:
            got = await client.aembed("emb", TEXTS)
            rows = client.ledger.fetch()
        assert got.vectors == [fake_vector(t, 8) for t in TEXTS]
        assert len(down.requests) == 1, "only the first batch tried the failing target"
        assert [len(WIRE.inputs_of(r)) for r in up.requests] == [2, 2, 1]
        assert got.provider == "oa-up" and got.trace is not None
        assert {r.route for r in rows} == {"emb"}
        assert [r.status for r in rows].count("error") == 1


async def test_a_hard_budget_refuses_before_sending(fake_server: FakeServer,
                                                    tmp_path: Path) -> None:
    WIRE.script_embeddings(fake_server, model=MODEL)
    cfg = config(fake_server, tmp_path, budgets={"tiny": {
        "scope": "global", "period": "daily", "limit": 1e-9, "mode": "hard"}})
    async with plugbay.Client(cfg, env={}) as client:
        with pytest.raises(errors.BudgetExceededError):
            await client.aembed(f"openai/{MODEL}", ["a long enough text " * 50])
    assert fake_server.requests == []


async def test_host_layers_see_embed_calls_and_chat_layers_pass_them(
        fake_server: FakeServer, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    class Audit(Layer):
        async def embed(self, call: Any, next: Any) -> Any:
            seen.append(list(call.request.inputs))
            return await next(call)

    class ChatOnly(Layer):
        async def complete(self, call: Any, next: Any) -> Any:
            raise AssertionError("an embed call reached a chat method")

    WIRE.script_embeddings(fake_server, model=MODEL)
    async with plugbay.Client(config(fake_server, tmp_path), env={},
                              layers=[ChatOnly(), Audit()]) as client:
        await client.aembed(f"openai/{MODEL}", TEXTS[:3])
    assert seen == [TEXTS[0:2], TEXTS[2:3]]


async def test_a_provider_without_embed_names_those_with_it(fake_server: FakeServer,
                                                            tmp_path: Path) -> None:
    pytest.importorskip("plugbay_groq")
    async with plugbay.Client({"providers": {"groq": {"api_key": "k"}},
                               "ledger": {"path": "off"}}, env={}) as client:
        with pytest.raises(errors.EmbeddingUnsupportedError) as caught:
            await client.aembed("groq/llama-3.3-70b-versatile", ["a"])
    text = str(caught.value)
    assert "'groq'" in text and "openai" in text and "groq," not in text.split(":")[-1]


async def test_the_providers_context_error_names_the_longest_input(
        fake_server: FakeServer, tmp_path: Path) -> None:
    too_long = Reply.json({"error": {
        "message": "This model's maximum context length is 8192 tokens, however you "
                   "requested 9000 tokens", "type": "invalid_request_error",
        "code": "context_length_exceeded"}}, status=400)
    fake_server.add("POST", "/v1/embeddings", lambda req: too_long if any(
        len(t) > 5 for t in WIRE.inputs_of(req)) else WIRE.answer(req, MODEL))
    async with plugbay.Client(config(fake_server, tmp_path), env={}) as client:
        with pytest.raises(errors.InputTooLongError) as caught:
            await client.aembed(f"openai/{MODEL}", ["a", "b", "c", "much longer one", "d"],
                                concurrency=1)
    assert caught.value.index == 3 and "input 3" in str(caught.value)
    assert isinstance(caught.value, errors.ContextLengthError)


@pytest.mark.parametrize("bad,why", [(["ok", 3], "inputs[1]"), ("x", None)])
async def test_bad_inputs_are_one_clear_line(fake_server: FakeServer, tmp_path: Path,
                                             bad: Any, why: str | None) -> None:
    WIRE.script_embeddings(fake_server, model=MODEL)
    async with plugbay.Client(config(fake_server, tmp_path), env={}) as client:
        if why is None:  # one string is one input
            got = await client.aembed(f"openai/{MODEL}", bad)
            assert got.vectors == [fake_vector("x", 8)]
            return
        with pytest.raises(errors.InvalidRequestError, match=why.replace("[", r"\[")):
            await client.aembed(f"openai/{MODEL}", bad)
        with pytest.raises(errors.InvalidRequestError, match="encoding"):
            await client.aembed(f"openai/{MODEL}", ["a"], encoding="float16")


async def test_an_empty_list_makes_no_call(fake_server: FakeServer, tmp_path: Path) -> None:
    async with plugbay.Client(config(fake_server, tmp_path), env={}) as client:
        got = await client.aembed(f"openai/{MODEL}", [])
    assert got.vectors == [] and fake_server.requests == []
