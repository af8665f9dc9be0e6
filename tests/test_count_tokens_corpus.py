"""Local OpenAI counts against the ``usage.prompt_tokens`` of real recorded Chat
Completions traffic in ../shared/corpus (openai and azure), read in place; skips cleanly
when the corpus or the encoding files are absent.

Each recorded request is turned back into plugbay messages and tools and counted through
``client.count_tokens``, so the body plugbay would build is what gets counted. A count
flagged exact must equal the recording. One the rules do not cover (tools, tool calls)
must land within a few tokens and closer than the old estimate. A recording whose answer
came from a model that is not OpenAI's (a router that swapped the model: the response
names it) is left out, as its tokenizer is not tiktoken's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.cost.budgets import estimate_tokens
from plugbay.http.sse import SSEDecoder
from plugbay.testing.cassettes import Interaction, corpus_dir, load_cassette

pytest.importorskip("plugbay_openai")
pytest.importorskip("plugbay_azure")
pytest.importorskip("tiktoken")
pytestmark = [pytest.mark.replay, pytest.mark.timeout(120)]


@dataclass
class Case:
    name: str
    provider: str
    model: str  # as the request named it
    served: str  # as the answer named it
    messages: list[plugbay.Message]
    tools: list[plugbay.Tool] | None
    prompt_tokens: int


def _messages(wire: list[dict[str, Any]]) -> list[plugbay.Message]:
    out = []
    for m in wire:
        calls = [plugbay.ToolCall(id=c["id"], name=c["function"]["name"],
                                  arguments=c["function"]["arguments"])
                 for c in m.get("tool_calls") or ()]
        out.append(plugbay.Message(role=m["role"], content=m.get("content"),
                                   tool_calls=calls or None, name=m.get("name"),
                                   tool_call_id=m.get("tool_call_id")))
    return out


def _tools(wire: list[dict[str, Any]] | None) -> list[plugbay.Tool] | None:
    if not wire:
        return None
    return [plugbay.Tool(name=t["function"]["name"], description=t["function"].get("description"),
                         parameters=t["function"].get("parameters") or {}) for t in wire]


def _answer(item: Interaction) -> tuple[str | None, dict[str, Any] | None]:
    """(the model the answer names, its usage), from a JSON or an SSE body."""
    raw = item.decoded_body()
    if raw.lstrip().startswith(b"{"):
        body = json.loads(raw)
        return body.get("model"), body.get("usage")
    model, usage = None, None
    for event in SSEDecoder().feed(raw + b"\n\n"):
        if event.data and event.data.strip() != "[DONE]":
            chunk = json.loads(event.data)
            model = model or chunk.get("model")
            usage = chunk.get("usage") or usage
    return model, usage


def _cases() -> list[Case]:
    root = corpus_dir()
    if root is None:
        return []
    cases = []
    for path in sorted((root / "openai").glob("**/*.yaml")):
        for i, item in enumerate(load_cassette(path)):
            if not item.path.endswith("/chat/completions"):
                continue
            body = item.request_json()
            served, usage = _answer(item)
            if not usage or "prompt_tokens" not in usage:
                continue
            cases.append(Case(f"{path.name}#{i}", "openai", body["model"], served or body["model"],
                              _messages(body["messages"]), _tools(body.get("tools")),
                              usage["prompt_tokens"]))
    # Azure's REST spec example: its deployment's model is not named; it was answered in
    # June 2023 (``created``), when Azure served gpt-35-turbo and gpt-4, both cl100k_base.
    for path in sorted((root / "azure").glob("**/chat_completions*.json")):
        spec = json.loads(path.read_text("utf-8"))
        body, answer = spec["parameters"]["body"], spec["responses"]["200"]["body"]
        if "usage" in answer:
            cases.append(Case(path.name, "azure", "gpt-35-turbo", "gpt-35-turbo",
                              _messages(body["messages"]), _tools(body.get("tools")),
                              answer["usage"]["prompt_tokens"]))
    return cases


CASES = _cases()


def _openai_served(case: Case) -> bool:
    from tiktoken.model import encoding_name_for_model

    try:
        encoding_name_for_model(case.served)
    except KeyError:
        return False
    return True


@pytest.mark.skipif(not CASES, reason="no chat recordings with usage in ../shared/corpus")
async def test_local_counts_against_recorded_prompt_tokens(tiktoken_cache: Path) -> None:
    config = {"providers": {"openai": {"api_key": "sk-test-0123456789",
                                       "base_url": "http://127.0.0.1:9"},
                            "azure": {"api_key": "azure-key-0123456789",
                                      "endpoint": "http://127.0.0.1:9"}},
              "ledger": {"path": "off"}}
    rows, left_out = [], []
    async with plugbay.Client(config, env={}) as c:
        for case in CASES:
            if not _openai_served(case):
                left_out.append(case.name)
                continue
            counted = await c.acount_tokens(f"{case.provider}/{case.model}", case.messages,
                                            tools=case.tools)
            guess = estimate_tokens(plugbay.Request(model=case.model, messages=case.messages,
                                                    tools=case.tools))
            rows.append((case, counted, guess))
    table = "\n".join(f"{case.name}: recorded {case.prompt_tokens}, local {counted.count} "
                      f"(exact={counted.exact}), estimate {guess}"
                      for case, counted, guess in rows)
    assert rows, f"every recording was answered by a model that is not OpenAI's: {left_out}"
    for case, counted, guess in rows:
        assert counted.source == "local", table
        if counted.exact:
            assert counted.count == case.prompt_tokens, table
        else:
            miss = abs(counted.count - case.prompt_tokens)
            assert miss <= max(6, case.prompt_tokens // 10), table
            assert miss < abs(guess - case.prompt_tokens), table
    assert any(counted.exact for _, counted, _ in rows), table  # the exact rule was checked
