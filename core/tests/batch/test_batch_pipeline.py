"""``plugbay batch`` through the pipeline: the model is a route whose first target always
fails (so each item that reaches a provider fails over), with the response cache on and
prompts repeated in the input (so the repeats are answered by the cache). The upstreams
are fake OpenAI servers on 127.0.0.1; the ledger and ``plugbay usage`` must show it all."""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

import plugbay
from plugbay.cost.ledger import Ledger
from plugbay.testing.cli import toml_text
from plugbay.testing.server import FakeServer, RecordedRequest, Reply

from .conftest import COST, KEY, USAGE, WIRE, config, error, read_output
from .test_batch_cli import run

pytestmark = [pytest.mark.timeout(120)]

ITEMS, PROMPTS = 60, 12  # 60 items asking 12 distinct prompts, 5 times each


class Prompts:
    """One upstream path: each request's prompt, counted; ``status`` 200 answers."""

    def __init__(self, srv: FakeServer, path: str, status: int = 200) -> None:
        self.status = status
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()
        srv.add("POST", path, self.reply)

    def reply(self, req: RecordedRequest) -> Reply:
        prompt = req.json()["messages"][-1]["content"]
        with self.lock:
            self.seen[prompt] += 1
        if self.status != 200:
            return error(self.status, "server_error")
        message = {"role": "assistant", "content": f"answer to {prompt}"}
        return Reply.json(WIRE.completion("gpt-4o-mini", message, "stop", USAGE))


def test_a_routed_cached_batch_fails_over_per_item_and_pays_each_prompt_once(
        srv: FakeServer, tmp_path: Path) -> None:
    down = Prompts(srv, "/down/v1/chat/completions", status=500)
    up = Prompts(srv, "/openai/v1/chat/completions")
    cfg = config(srv, tmp_path,
                 routes={"smart": {"strategy": "priority",
                                   "targets": ["down/gpt-4o-mini", "openai/gpt-4o-mini"]}},
                 cache={"backend": "sqlite", "path": str(tmp_path / "cache.db")},
                 routing={"breaker": {"threshold": 10_000}})  # never skip the first target
    cfg["providers"]["down"] = {"plugin": "openai", "api_key": KEY,
                                "base_url": f"{srv.url}/down/v1"}
    cfg["prices"]["down/gpt-4o-mini"] = cfg["prices"]["openai/gpt-4o-mini"]
    (tmp_path / "plugbay.toml").write_text(toml_text(cfg))
    req, out = tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    prompt_of = {f"req-{i:05d}": f"prompt-{i % PROMPTS:02d}" for i in range(ITEMS)}
    req.write_text("".join(
        json.dumps({"custom_id": cid, "model": "smart", "max_tokens": 50,
                    "messages": [{"role": "user", "content": prompt}]}) + "\n"
        for cid, prompt in prompt_of.items()))

    done = run([sys.executable, "-m", "plugbay.cli", "--config", "plugbay.toml", "batch",
                str(req), "-o", str(out), "--no-progress", "--concurrency", "4"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{ITEMS} done (0 failed)" in done.stderr

    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == sorted(prompt_of)
    for line in lines:  # every item ok, answered for its own prompt by the second target
        assert line["error"] is None
        body = line["response"]["body"]
        assert body["choices"][0]["message"]["content"] == \
            f"answer to {prompt_of[line['custom_id']]}"
        assert line["plugbay"]["provider"] == "openai"
    hits = {line["custom_id"] for line in lines if line["plugbay"]["cached"]}
    assert len(hits) == ITEMS - PROMPTS
    assert all(line["plugbay"]["cost"] == (0 if line["custom_id"] in hits
                                           else pytest.approx(COST)) for line in lines)
    # each distinct prompt reached each upstream once: the failing first target (the
    # route failed over for it), then the working second; the repeats never left
    assert down.seen == up.seen == Counter({f"prompt-{p:02d}": 1 for p in range(PROMPTS)})

    rows = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}").fetch()
    ok = {(r.tags or {})["custom_id"]: r for r in rows if r.status == "ok"}
    assert set(ok) == set(prompt_of)  # one ok row per item
    assert Counter(r.status for r in rows)["ok"] == ITEMS
    assert {cid for cid, r in ok.items() if r.cache == "hit"} == hits
    for cid, r in ok.items():
        assert r.route == "smart"
        if cid in hits:
            assert r.cost == 0 and r.saved == pytest.approx(COST)
        else:
            assert r.cache == "miss" and r.cost == pytest.approx(COST)
    # the first target's failure is a row of its own (one per attempt): one per miss
    failed = [r for r in rows if r.status != "ok"]
    assert sorted((r.tags or {})["custom_id"] for r in failed) == sorted(set(ok) - hits)
    assert all((r.provider, r.error, r.cache) == ("down", "ProviderError", "miss")
               for r in failed)

    usage = run([sys.executable, "-m", "plugbay.cli", "--config", "plugbay.toml", "usage",
                 "--by", "route", "--json"], tmp_path)
    assert usage.returncode == 0, usage.stderr[-2000:]
    smart = next(r for r in json.loads(usage.stdout) if r["key"] == "smart")
    # rows are attempts: 60 answered items plus the 12 failed first attempts; a miss is
    # an answered call, so each failed-over prompt is one miss, not two
    assert (smart["calls"], smart["errors"]) == (ITEMS + PROMPTS, PROMPTS)
    assert (smart["cache_hits"], smart["cache_misses"]) == (ITEMS - PROMPTS, PROMPTS)
    assert smart["cost"] == pytest.approx(PROMPTS * COST)
    assert smart["saved"] == pytest.approx((ITEMS - PROMPTS) * COST)


async def test_abatch_with_a_memory_cache_joins_repeats_in_flight(srv: FakeServer,
                                                                  tmp_path: Path) -> None:
    """In-process: the repeats of a prompt sit side by side in the input, so they are in
    the window together and join the first call (single flight) instead of reading a
    stored entry; the route still fails over once per prompt."""
    down = Prompts(srv, "/down/v1/chat/completions", status=500)
    up = Prompts(srv, "/openai/v1/chat/completions")
    cfg = config(srv, tmp_path,
                 routes={"smart": {"strategy": "priority",
                                   "targets": ["down/gpt-4o-mini", "openai/gpt-4o-mini"]}},
                 cache={"backend": "memory"}, routing={"breaker": {"threshold": 10_000}})
    cfg["providers"]["down"] = {"plugin": "openai", "api_key": KEY,
                                "base_url": f"{srv.url}/down/v1"}
    prompt_of = {f"req-{i:05d}": f"prompt-{i // 5:02d}" for i in range(ITEMS)}
    items = [{"custom_id": cid, "model": "smart", "max_tokens": 50,
              "messages": [{"role": "user", "content": prompt}]}
             for cid, prompt in prompt_of.items()]
    async with plugbay.Client(cfg, env={"HOME": str(tmp_path)}) as c:
        results = [r async for r in c.abatch(items, concurrency=10)]
        rows = c.ledger.fetch()  # type: ignore[union-attr]
    assert sorted(r.custom_id for r in results) == sorted(prompt_of)
    assert all(r.ok and r.completion is not None
               and r.completion.text == f"answer to {prompt_of[r.custom_id]}" for r in results)
    assert down.seen == up.seen == Counter({f"prompt-{p:02d}": 1 for p in range(PROMPTS)})
    hits = {r.custom_id for r in results if r.cached}
    assert len(hits) == ITEMS - PROMPTS
    ok = {(r.tags or {})["custom_id"]: r for r in rows if r.status == "ok"}
    assert set(ok) == set(prompt_of)
    assert {cid for cid, r in ok.items() if r.cache == "hit"} == hits
    assert sum(r.cost or 0 for r in rows) == pytest.approx(PROMPTS * COST)
