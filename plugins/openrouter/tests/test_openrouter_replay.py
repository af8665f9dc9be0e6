"""Replay the recorded OpenRouter stream in ../shared/corpus, read in place.

``openai/simonw+llm/test_tools_streaming_variant_a.yaml`` holds an OpenRouter answer
(``gen-…`` ids, ``"provider": "Novita"``, ``native_finish_reason``) whose stream calls a
tool and ends without ever sending a finish reason: every chunk says ``null``.
"""

from __future__ import annotations

import json

import pytest

import plugbay
from plugbay.http.sse import SSEDecoder
from plugbay.testing.cassettes import corpus_dir, load_cassette, reply_for
from plugbay.testing.server import FakeServer

CORPUS = corpus_dir()
pytestmark = [pytest.mark.skipif(CORPUS is None, reason="../shared/corpus is not present"),
              pytest.mark.replay, pytest.mark.timeout(20)]
CASSETTE = ("openai", "simonw+llm", "test_tools_streaming_variant_a.yaml")


def recorded_chunks(interaction) -> list[dict]:
    body = interaction.decoded_body()
    return [json.loads(e.data) for e in SSEDecoder().feed(body + b"\n\n") if e.data != "[DONE]"]


async def test_stream_without_finish_reason_that_calls_a_tool_finishes_with_tool_calls():
    assert CORPUS is not None
    recorded = load_cassette(CORPUS.joinpath(*CASSETTE))[0]
    chunks = recorded_chunks(recorded)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks if c["choices"])
    names = [call["function"]["name"] for c in chunks for ch in c["choices"]
             for call in ch["delta"].get("tool_calls") or () if call["function"].get("name")]
    model = recorded.request_json()["model"]
    with FakeServer() as server:
        server.add("POST", "/api/v1/chat/completions", reply_for(recorded))
        config = {"providers": {"openrouter": {"api_key": "sk-or-v1-replay0000000",
                                               "base_url": server.url + "/api/v1"}}}
        async with plugbay.Client(config, env={}) as client, \
                client.astream(f"openrouter/{model}", "replayed") as stream:
            events = [e async for e in stream]
    done = stream.completion
    assert done is not None
    assert [c.name for c in done.tool_calls] == names[:1] == ["llm_version"]
    assert done.finish_reason == "tool_calls"
    assert done.raw_finish_reason is None  # the provider never said; plugbay inferred it
    assert events[-1].type == "finish" and events[-1].reason == "tool_calls"
