"""Cost cross-check: for given usage figures, what plugbay charges (through the real
plugins' wire parsing and shipped price tables) equals the figure computed by hand from
the providers' published per-million prices. Also: unknown price -> None + a warning,
never 0; config price overrides."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.testing.server import FakeServer, Reply
from plugbay.types import Cost, Price, Usage

pytestmark = pytest.mark.timeout(30)
M = 1_000_000


def client_for(srv: FakeServer, db: Path, plugin: str, base: str) -> plugbay.Client:
    cfg = {"providers": {plugin: {"api_key": "sk-test-cost-0123456789abcdef",
                                  "base_url": f"{srv.url}{base}"}},
           "ledger": {"path": str(db)}}
    return plugbay.Client(cfg, env={})


def check(client: plugbay.Client, model: str, expected: dict[str, float]) -> None:
    c = client.complete(model, "hi")
    cost = client.cost(c)
    assert cost is not None
    for part, value in expected.items():
        assert getattr(cost, part) == pytest.approx(value, rel=1e-9, abs=1e-12), part
    assert client.ledger is not None
    (row,) = client.ledger.fetch()
    assert row.cost == pytest.approx(expected["total"], rel=1e-9)


def test_openai_cached_and_reasoning(srv: FakeServer, db: Path) -> None:
    # gpt-5.1, platform.openai.com/docs/pricing: $1.25 in, $0.125 cached in, $10 out;
    # reasoning tokens are billed as output.
    usage = {"prompt_tokens": 10_000, "completion_tokens": 2_000, "total_tokens": 12_000,
             "prompt_tokens_details": {"cached_tokens": 4_000},
             "completion_tokens_details": {"reasoning_tokens": 1_500}}
    srv.add("POST", re.compile(r".*/chat/completions$"), Reply.json(
        {"id": "x", "object": "chat.completion", "model": "gpt-5.1", "usage": usage,
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "ok"}}]}))
    with client_for(srv, db, "openai", "/v1") as client:
        check(client, "openai/gpt-5.1", {
            "input": 6_000 * 1.25 / M, "cached_input": 4_000 * 0.125 / M,
            "output": 500 * 10 / M, "reasoning": 1_500 * 10 / M,
            "total": (6_000 * 1.25 + 4_000 * 0.125 + 2_000 * 10) / M})  # = 0.028


def test_anthropic_cache_write_and_read(srv: FakeServer, db: Path) -> None:
    # claude-opus-5-5, platform.claude.com pricing: $4 in, $5 5-minute cache write,
    # $0.20 cache read, $20 out. Anthropic's input_tokens exclude cache tokens.
    srv.add("POST", re.compile(r".*/v1/messages$"), Reply.json(
        {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-5-5",
         "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
         "usage": {"input_tokens": 1_000, "cache_creation_input_tokens": 20_000,
                   "cache_read_input_tokens": 50_000, "output_tokens": 3_000}}))
    with client_for(srv, db, "anthropic", "") as client:
        check(client, "anthropic/claude-opus-5-5", {
            "input": 1_000 * 4 / M, "cache_write": 20_000 * 5 / M,
            "cached_input": 50_000 * 0.2 / M, "output": 3_000 * 20 / M,
            "total": 0.004 + 0.1 + 0.01 + 0.06})


def test_gemini_thoughts_and_cached(srv: FakeServer, db: Path) -> None:
    # gemini-2.5-pro (prompts <= 200k), ai.google.dev pricing: $1.25 in, $0.125 cached,
    # $10 out, thinking tokens billed as output.
    srv.add("POST", re.compile(r".*:generateContent$"), Reply.json(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
                         "finishReason": "STOP", "index": 0}],
         "usageMetadata": {"promptTokenCount": 50_000, "cachedContentTokenCount": 30_000,
                           "candidatesTokenCount": 1_000, "thoughtsTokenCount": 4_000,
                           "totalTokenCount": 55_000},
         "modelVersion": "gemini-2.5-pro", "responseId": "r1"}))
    with client_for(srv, db, "gemini", "/v1beta") as client:
        check(client, "gemini/gemini-2.5-pro", {
            "input": 20_000 * 1.25 / M, "cached_input": 30_000 * 0.125 / M,
            "output": 1_000 * 10 / M, "reasoning": 4_000 * 10 / M,
            "total": 0.025 + 0.00375 + 0.05})


def test_deepseek_cache_hits(srv: FakeServer, db: Path) -> None:
    # deepseek-flash, api-docs.deepseek.com pricing (peak): $0.30 cache miss,
    # $0.006 cache hit, $1.20 out.
    usage = {"prompt_tokens": 100_000, "completion_tokens": 10_000, "total_tokens": 110_000,
             "prompt_cache_hit_tokens": 80_000, "prompt_cache_miss_tokens": 20_000}
    srv.add("POST", re.compile(r".*/chat/completions$"), Reply.json(
        {"id": "x", "object": "chat.completion", "model": "deepseek-flash", "usage": usage,
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "ok"}}]}))
    with client_for(srv, db, "deepseek", "") as client:
        check(client, "deepseek/deepseek-flash", {
            "input": 20_000 * 0.3 / M, "cached_input": 80_000 * 0.006 / M,
            "output": 10_000 * 1.2 / M, "total": 0.006 + 0.00048 + 0.012})


def test_cost_itemises_every_rate() -> None:
    price = Price(input=2.0, output=8.0, cached_input=0.5, cache_write=2.5, reasoning=12.0,
                  as_of="2026-11-01", source="test")  # type: ignore[arg-type]
    usage = Usage(input_tokens=1_000, cached_input_tokens=300, cache_write_tokens=200,
                  output_tokens=500, reasoning_tokens=100)
    cost = Cost.of(usage, price)
    assert cost is not None
    assert (cost.input, cost.cached_input, cost.cache_write, cost.output, cost.reasoning) == \
        pytest.approx((500 * 2 / M, 300 * 0.5 / M, 200 * 2.5 / M, 400 * 8 / M, 100 * 12 / M))
    assert cost.total == pytest.approx((1000 + 150 + 500 + 3200 + 1200) / M)
    # rates left out fall back to the base rates, never to 0
    bare = Price(input=2.0, output=8.0, as_of="2026-11-01", source="t")  # type: ignore[arg-type]
    c2 = Cost.of(usage, bare)
    assert c2 is not None and c2.total == pytest.approx((1000 * 2 + 500 * 8) / M)
    assert Cost.of(usage, Price(input=None, output=8.0, as_of="2026-11-01",  # type: ignore[arg-type]
                                source="t")) is None


def test_unknown_price_is_none_with_a_warning(srv: FakeServer, db: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    srv.add("POST", re.compile(r".*/chat/completions$"), Reply.json(
        {"id": "x", "object": "chat.completion", "model": "no-such-model",
         "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "ok"}}]}))
    with client_for(srv, db, "openai", "/v1") as client, caplog.at_level(logging.WARNING):
        c = client.complete("openai/no-such-model", "hi")
        assert c.cost is None
        assert client.cost(c) is None
        assert "cost unknown for openai/no-such-model" in caplog.text
        assert client.ledger is not None
        (row,) = client.ledger.fetch()
        assert row.cost is None and row.input_tokens == 5  # unknown, not 0
        assert client.stats()["openai"].unpriced == 1


def test_config_price_override(srv: FakeServer, db: Path) -> None:
    srv.add("POST", re.compile(r".*/chat/completions$"), Reply.json(
        {"id": "x", "object": "chat.completion", "model": "ft:my",
         "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000,
                   "total_tokens": 2_000_000},
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "ok"}}]}))
    cfg: dict[str, Any] = {
        "providers": {"openai": {"api_key": "sk-test-cost-0123456789abcdef",
                                 "base_url": f"{srv.url}/v1"}},
        "prices": {"openai/ft:my": {"input": 3.0, "output": 12.0}},
        "ledger": {"path": str(db)}}
    with plugbay.Client(cfg, env={}) as client:
        c = client.complete("openai/ft:my", "hi")
        assert c.cost is not None and c.cost.total == pytest.approx(15.0)
        assert client.price("openai/ft:my").source == "plugbay.toml"  # type: ignore[union-attr]


def test_ledger_fast_total_equals_cost_of() -> None:
    import random

    from plugbay.cost.ledger.records import cost_total

    rnd = random.Random(7)
    for _ in range(2000):
        def rate() -> float | None:
            return None if rnd.random() < 0.3 else round(rnd.uniform(0, 30), 3)
        price = Price(input=rnd.choice([None, 1.5, 0.0, rnd.uniform(0, 20)]),
                      output=rnd.choice([None, 6.0, rnd.uniform(0, 80)]), cached_input=rate(),
                      cache_write=rate(), reasoning=rate(), as_of="2026-11-01",  # type: ignore[arg-type]
                      source="t")
        inp = rnd.randint(0, 200_000)
        cached = rnd.randint(0, inp)
        out = rnd.randint(0, 50_000)
        usage = Usage(input_tokens=inp, cached_input_tokens=cached,
                      cache_write_tokens=rnd.randint(0, inp - cached + 5),
                      output_tokens=out, reasoning_tokens=rnd.randint(0, out + 5))
        expected = Cost.of(usage, price)
        got = cost_total(usage, price)
        if expected is None:
            assert got is None
        else:
            assert got == pytest.approx(expected.total, rel=1e-12, abs=1e-15)
