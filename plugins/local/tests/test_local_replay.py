"""Replay recorded Chat Completions traffic through the local plugin.

No vLLM or llama.cpp recordings are public (see ../shared/corpus/SOURCES.md), but those
servers emulate OpenAI's wire format, so OpenAI's recorded streams and bodies (read in
place from ../shared/corpus) are what a local server sends too: the plugin, pointed at a
user-supplied base URL, must reproduce the recorded text, tool calls and usage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import plugbay
from plugbay.http.sse import SSEDecoder
from plugbay.testing.cassettes import Interaction, corpus_dir, load_cassette, reply_for
from plugbay.testing.server import FakeServer

CORPUS = corpus_dir()
pytestmark = [pytest.mark.replay, pytest.mark.timeout(30),
              pytest.mark.skipif(CORPUS is None, reason="../shared/corpus is not present")]
NAMES = ["test_tool_use_basic.yaml", "test_tool_use_chain_of_two_calls.yaml",
         "test_tools_streaming_variant_a.yaml"]


def recorded() -> list[Any]:
    if CORPUS is None:
        return []
    return [pytest.param(item, id=f"{name}-{n}")
            for name in NAMES
            for n, item in enumerate(load_cassette(CORPUS / "openai" / "simonw+llm" / name))
            if item.status == 200 and item.path.endswith("/chat/completions")]


def truth(item: Interaction) -> tuple[str, list[tuple[str, Any]], int | None]:
    """Answer text, (name, args) calls and output tokens, read straight from the recording."""
    raw = item.decoded_body()
    if not raw.lstrip().startswith(b"data:"):
        message = json.loads(raw)["choices"][0]["message"]
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                 for c in message.get("tool_calls") or ()]
        return message.get("content") or "", calls, json.loads(raw)["usage"]["completion_tokens"]
    pieces: list[str] = []
    frags: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    tokens = None
    for event in SSEDecoder().feed(raw + b"\n\n"):
        if event.data == "[DONE]":
            break
        chunk = json.loads(event.data)
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        for choice in chunk.get("choices") or ():
            pieces.append(choice["delta"].get("content") or "")
            for call in choice["delta"].get("tool_calls") or ():
                fn = call.get("function") or {}
                if fn.get("name"):
                    names[call["index"]] = fn["name"]
                frags.setdefault(call["index"], []).append(fn.get("arguments") or "")
    calls = [(names[i], json.loads("".join(frags[i]))) for i in sorted(frags)]
    return "".join(pieces), calls, tokens


@pytest.mark.parametrize("item", recorded())
async def test_replay_through_local(item: Interaction) -> None:
    body = item.request_json()
    text, calls, tokens = truth(item)
    with FakeServer() as server:
        server.add("POST", "/v1/chat/completions", reply_for(item))
        config = {"providers": {"local": {"base_url": server.url + "/v1"}}}
        async with plugbay.Client(config, env={}) as client:
            kwargs: dict[str, Any] = {}
            if body.get("tools"):
                kwargs["tools"] = [plugbay.Tool(name=t["function"]["name"],
                                                parameters=t["function"]["parameters"])
                                   for t in body["tools"]]
            prompt = [m for m in body["messages"] if isinstance(m.get("content"), str)
                      and m["role"] in ("user", "system")] or "hi"
            if body.get("stream"):
                async with client.astream(f"local/{body['model']}", prompt, **kwargs) as s:
                    result = await s.get_completion()
            else:
                result = await client.acomplete(f"local/{body['model']}", prompt, **kwargs)
    assert result.text == text
    assert [(c.name, c.args) for c in result.tool_calls] == calls
    if tokens is not None:
        assert result.usage is not None and result.usage.output_tokens == tokens
