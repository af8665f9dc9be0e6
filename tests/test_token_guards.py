"""Local counts on the call path (plugbay.token_checks), against a real HTTP server:
a request that cannot fit the model's context window is refused without being sent (or
goes to a route's next target with a larger window), and budget reservations use the
count, so a workload the estimate underrates overspends less.

Windows and prices are the openai plugin's table (gpt-4o-mini: 128,000 tokens;
gpt-4.1-mini: 1,047,576). The prompts are digits and spaces: one token a character
(``" ".join(digits)``), which the old 3-characters-a-token estimate underrates three times.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

pytest.importorskip("plugbay_openai")
pytestmark = pytest.mark.timeout(120)


def digits(n: int, seed: int = 7) -> str:
    """``n`` digits between spaces: 2n - 1 tokens in o200k_base."""
    rnd = random.Random(seed)
    return " ".join(str(rnd.randrange(10)) for _ in range(n))


def answer(request: RecordedRequest, prompt_tokens: int = 0) -> Reply:
    body = request.json()
    out = body.get("max_completion_tokens") or 5
    return Reply.json({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "length",
                     "message": {"role": "assistant", "content": "x " * out}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out,
                  "total_tokens": prompt_tokens + out}})


def client(server: FakeServer, **extra: Any) -> plugbay.Client:
    config: dict[str, Any] = {
        "providers": {"openai": {"base_url": server.url, "api_key": "sk-test-0123456789"}},
        "routing": {"retries": 0}, "ledger": {"path": "off"}, **extra}
    return plugbay.Client(config, env={})


# ------------------------------------------------------------------ context window


async def test_a_request_over_the_window_is_refused_unsent(fake_server: FakeServer,
                                                           tiktoken_cache: Path) -> None:
    fake_server.add("POST", "/chat/completions", answer)
    async with client(fake_server) as c:
        with pytest.raises(errors.ContextLengthError) as info:
            await c.acomplete("openai/gpt-4o-mini", digits(70_000))  # 139,999 + 7
        with pytest.raises(errors.ContextLengthError) as out_info:  # fits, max_tokens not
            await c.acomplete("openai/gpt-4o-mini", digits(63_000), max_tokens=4_000)
        fits = await c.acomplete("openai/gpt-4o-mini", "hello " * 30_000)  # 180 kB: counted
    message = str(info.value)
    assert "140006 input tokens" in message and "context window of 128000" in message
    assert "openai/gpt-4o-mini" in message and info.value.provider == "openai"
    # 2n - 1 digit and space tokens + 3 (message) + 1 ("user") + 3 (reply)
    assert "126006 input tokens + max_tokens 4000 = 130006" in str(out_info.value)
    assert fits.text and len(fake_server.requests) == 1  # only the one that fits was sent


async def test_a_route_goes_to_the_target_with_the_larger_window(
        fake_server: FakeServer, tiktoken_cache: Path) -> None:
    fake_server.add("POST", "/chat/completions", answer)
    routes = {"long": {"targets": ["openai/gpt-4o-mini", "openai/gpt-4.1-mini"]}}
    async with client(fake_server, routes=routes) as c:
        done = await c.acomplete("long", digits(70_000))
    assert [r.json()["model"] for r in fake_server.requests] == ["gpt-4.1-mini"]
    assert done.trace is not None
    first, second = done.trace.attempts
    assert (first.target, first.error) == ("openai/gpt-4o-mini", "ContextLengthError")
    assert (second.target, second.outcome) == ("openai/gpt-4.1-mini", "ok")


async def test_without_a_local_count_the_provider_decides(fake_server: FakeServer,
                                                          tiktoken_cache: Path) -> None:
    fake_server.add("POST", "/chat/completions", answer)
    providers = {"openai": {"base_url": fake_server.url, "api_key": "sk-test-0123456789",
                            "count_locally": False}}
    async with client(fake_server, providers=providers) as c:
        await c.acomplete("openai/gpt-4o-mini", digits(70_000))
    assert len(fake_server.requests) == 1  # not refused on a guess


async def test_the_call_path_never_downloads_an_encoding(
        fake_server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no encoding file at hand, a budgeted call and the window check estimate: they
    do not make tiktoken fetch one (an explicit count_tokens may)."""
    tiktoken_load = pytest.importorskip("tiktoken.load")
    fetched: list[str] = []

    def no_network(url: str) -> bytes:
        fetched.append(url)
        raise OSError("no network in tests")

    monkeypatch.setattr(tiktoken_load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    fake_server.add("POST", "/chat/completions", answer)
    budgets = {"all": {"scope": "global", "limit": 10.0}}
    async with client(fake_server, budgets=budgets) as c:
        await c.acomplete("openai/gpt-4o-mini", digits(70_000))
        await c.acomplete("openai/gpt-4o-mini", "hi")
    assert fetched == [] and len(fake_server.requests) == 2


# ------------------------------------------------------------------ budgets


def billed(request: RecordedRequest) -> Reply:
    """The provider's answer, billing the prompt by OpenAI's documented rule for text
    messages (3 a message plus role and content, 3 for the reply), counted here with
    tiktoken independently of plugbay."""
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    messages = request.json()["messages"]
    prompt = 3 + sum(3 + len(enc.encode_ordinary(m["role"]))
                     + len(enc.encode_ordinary(m["content"])) for m in messages)
    return answer(request, prompt)


async def _spend(server: FakeServer, count_locally: bool, prompts: list[str]) -> float:
    providers = {"openai": {"base_url": server.url, "api_key": "sk-test-0123456789",
                            "count_locally": count_locally}}
    budgets = {"tight": {"scope": "global", "limit": 0.001}}
    async with client(server, providers=providers, budgets=budgets) as c:
        async def one(prompt: str) -> None:
            try:
                await c.acomplete("openai/gpt-4o-mini", prompt, max_tokens=20)
            except errors.BudgetExceededError:
                pass

        await asyncio.gather(*(one(p) for p in prompts))
        assert c.budgets is not None
        (status,) = await c.budgets.astatus()
    assert status.reserved == pytest.approx(0)
    return status.spent


async def test_reservations_with_counts_overspend_less_than_the_estimate(
        fake_server: FakeServer, tiktoken_cache: Path) -> None:
    fake_server.add("POST", "/chat/completions", billed)
    prompts = [digits(300, seed) for seed in range(40)]  # 599 tokens each, ~200 estimated
    counted = await _spend(fake_server, True, prompts)
    sent_counted = len(fake_server.requests)
    estimated = await _spend(fake_server, False, prompts)
    sent_estimated = len(fake_server.requests) - sent_counted
    figures = (f"limit 0.001 USD: with counts {sent_counted} calls spent {counted:.6f}, "
               f"with the estimate {sent_estimated} calls spent {estimated:.6f}")
    assert counted <= 0.001, figures  # exact counts: the limit holds
    assert estimated > 0.0015, figures  # the estimate let about twice the work through
    assert sent_counted < sent_estimated, figures
    sent = json.loads(fake_server.requests[0].body)
    assert sent["max_completion_tokens"] == 20
