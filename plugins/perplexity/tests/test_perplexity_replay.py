"""Replay recorded Responses-format traffic through the Agent API path.

The corpus has no Perplexity recordings, but the Agent API speaks OpenAI's Responses
format, and ../shared/corpus holds real OpenAI ``/v1/responses`` recordings (simonw/llm,
read in place). Served byte for byte (gzip bodies included) at ``/v1/agent``, they must
give the recorded text, tool calls and usage; and the input items plugbay encodes for the
recorded conversation must equal the recorded request's ``input``.
"""

from __future__ import annotations

from typing import Any

import pytest

import plugbay
from plugbay.openai_compat.responses import encode_input
from plugbay.testing.cassettes import (
    Interaction,
    corpus_dir,
    load_cassette,
    reply_for,
    responses_messages,
    responses_truth,
)
from plugbay.testing.server import FakeServer

CORPUS = corpus_dir()
pytestmark = [pytest.mark.replay, pytest.mark.timeout(30),
              pytest.mark.skipif(CORPUS is None, reason="../shared/corpus is not present")]
NAMES = ["test_responses_basic_non_streaming.yaml", "test_responses_basic_streaming.yaml",
         "test_responses_tool_use.yaml", "test_responses_tool_use_streaming.yaml"]


def recorded() -> list[Any]:
    if CORPUS is None:
        return []
    return [pytest.param(item, id=f"{name}-{n}")
            for name in NAMES
            for n, item in enumerate(load_cassette(CORPUS / "openai" / "simonw+llm" / name))
            if item.status == 200 and item.path.endswith("/responses")]


@pytest.mark.parametrize("item", recorded())
async def test_replay_responses_format(item: Interaction) -> None:
    sent = item.request_json()
    messages = responses_messages(sent["input"])
    assert encode_input(messages)[0] == sent["input"]
    tools = [plugbay.Tool(name=t["name"], description=t.get("description"),
                          parameters=t["parameters"]) for t in sent.get("tools") or ()]
    text, calls, usage = responses_truth(item)
    with FakeServer() as server:
        server.add("POST", "/v1/agent", reply_for(item))
        config = {"providers": {"perplexity": {"api_key": "pplx-replay-000000",
                                               "base_url": server.url, "web_search": False}}}
        async with plugbay.Client(config, env={}) as client:
            target = f"perplexity/openai/{sent['model']}"
            if sent.get("stream"):
                async with client.astream(target, messages, tools=tools or None) as stream:
                    result = await stream.get_completion()
            else:
                result = await client.acomplete(target, messages, tools=tools or None)
        body = server.last.json()
    assert body["input"] == sent["input"]
    assert result.text == text
    assert [(c.name, c.args) for c in result.tool_calls] == calls
    assert result.finish_reason == ("tool_calls" if calls else "stop")
    assert result.usage is not None and result.usage.output_tokens == usage["output_tokens"]
