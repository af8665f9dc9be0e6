"""Cohere's cached tokens, from the documented v2 ``usage`` shape (no Cohere recording
exists in ../shared/corpus).

Cohere documents three counts: ``billed_units`` (what it charges), ``tokens`` (everything
the model processed, including tokens Cohere adds itself and does not bill) and
``cached_tokens``, "the number of prompt tokens that hit the inference cache", counted
over the processed prompt. plugbay's ``Usage`` is on the billed basis, with
``cached_input_tokens`` a subset of ``input_tokens``. The first two cases are the ones
seen in real traffic: cached 448 of a 507-token prompt Cohere billed as 12, and cached
2928 with billed input 2406.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import plugbay
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

MODEL = "command-a-03-2025"
PRICE = {"input": 2.5, "output": 10.0, "cached_input": 0.25}  # a cache rate, to see cost move


def usage(billed: tuple[int, int], processed: tuple[int, int] | None, cached: float,
          ) -> dict[str, Any]:
    out: dict[str, Any] = {"billed_units": {"input_tokens": billed[0], "output_tokens": billed[1]},
                           "cached_tokens": cached}
    if processed is not None:
        out["tokens"] = {"input_tokens": processed[0], "output_tokens": processed[1]}
    return out


# (billed, processed, cached_tokens) -> the billed input tokens that hit the cache
CASES = {
    # 448 cached, all inside the 495 tokens Cohere added and billed nothing for.
    "preamble-only-hit": (((12, 7), (507, 10), 448), 0),
    # 2928 cached of 3000 processed: 594 unbilled, so 2334 of the 2406 billed were hits.
    "hit-beyond-billed": (((2406, 80), (3000, 85), 2928.0), 2334),
    "prompt-prefix-hit": (((1500, 20), (1995, 22), 1984), 1489),
    "cold": (((1500, 20), (1995, 22), 0), 0),
    # No processed count: nothing says which tokens went unbilled.
    "no-processed-count": (((100, 5), None, 64), 64),
}


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"cohere": {"base_url": fake_server.url, "api_key": "co-test-1234"}},
              "prices": {f"cohere/{MODEL}": PRICE}}
    async with plugbay.Client(config, env={}) as c:
        yield c


def answer(u: dict[str, Any]) -> dict[str, Any]:
    return {"id": "r1", "finish_reason": "COMPLETE", "usage": u,
            "message": {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}}


def stream(u: dict[str, Any]) -> list[str]:
    def sse(kind: str, data: dict[str, Any]) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    return [sse("message-start", {"id": "r1", "delta": {"message": {"role": "assistant"}}}),
            sse("content-delta", {"index": 0, "delta": {"message": {"content": {"text": "ok"}}}}),
            sse("message-end", {"delta": {"finish_reason": "COMPLETE", "usage": u}})]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize("case", list(CASES))
async def test_cached_tokens_are_the_billed_share_of_cache_hits(
        fake_server: FakeServer, client: plugbay.Client, case: str, mode: str) -> None:
    (billed, processed, cached), hits = CASES[case]
    body = usage(billed, processed, cached)
    if mode == "complete":
        fake_server.add("POST", "/v2/chat", Reply.json(answer(body)))
        result = await client.acomplete(f"cohere/{MODEL}", "hi")
    else:
        fake_server.add("POST", "/v2/chat", Reply.sse(stream(body)))
        async with client.astream(f"cohere/{MODEL}", "hi") as s:
            result = await s.get_completion()
    assert result.usage == plugbay.Usage(input_tokens=billed[0], output_tokens=billed[1],
                                         cached_input_tokens=hits)
    assert result.usage.cached_input_tokens <= result.usage.input_tokens  # the Usage rule
    assert result.extra["cached_tokens"] == cached  # Cohere's own figure, kept as sent
    # Priced on what Cohere bills: fresh billed input, billed cache hits, billed output.
    expected = ((billed[0] - hits) * PRICE["input"] + hits * PRICE["cached_input"]
                + billed[1] * PRICE["output"]) / 1e6
    assert result.cost is not None and result.cost.total == pytest.approx(expected)
