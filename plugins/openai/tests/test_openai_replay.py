"""Replay the recorded OpenAI traffic in ../shared/corpus, read in place: Chat
Completions, and the Responses API (``/v1/responses``, simonw/llm's gpt-5.5 recordings).

Each recorded response is served byte for byte by the fake server; the plugin must
produce exactly the recorded text, tool calls and usage, and for the Responses API send
the recorded conversation as the recorded ``input``.
"""

from __future__ import annotations

import json

import pytest

import plugbay
from plugbay.http.sse import SSEDecoder
from plugbay.testing.cassettes import (
    corpus_dir,
    load_cassette,
    reply_for,
    responses_messages,
    responses_truth,
)
from plugbay.testing.server import FakeServer

CORPUS = corpus_dir()
pytestmark = pytest.mark.skipif(CORPUS is None, reason="../shared/corpus is not present")
CASSETTES = ["test_tool_use_basic.yaml", "test_tools_streaming_variant_a.yaml",
             "test_tool_use_chain_of_two_calls.yaml"]
RESPONSES = ["test_responses_basic_non_streaming.yaml", "test_responses_basic_streaming.yaml",
             "test_responses_tool_use.yaml", "test_responses_tool_use_streaming.yaml"]


def finish(raw, calls):
    """A missing finish reason on an answer that calls tools means tool_calls."""
    return raw or ("tool_calls" if calls else "stop")


def expected(interaction):
    """Text, tool calls, usage and finish reason computed directly from the recorded body."""
    body = interaction.decoded_body().decode()
    if not body.lstrip().startswith("data:"):
        data = json.loads(body)
        msg = data["choices"][0]["message"]
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"] or "{}"))
                 for c in msg.get("tool_calls") or []]
        return (msg.get("content") or "", calls, data["usage"],
                finish(data["choices"][0]["finish_reason"], calls))
    text, args, names, usage, raw = [], {}, {}, None, None
    for event in SSEDecoder().feed(body.encode() + b"\n\n"):
        if event.data == "[DONE]":
            break
        chunk = json.loads(event.data)
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            raw = choice.get("finish_reason") or raw
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                i = call.get("index", 0)
                names[i] = names.get(i) or call.get("function", {}).get("name")
                args[i] = args.get(i, "") + (call.get("function", {}).get("arguments") or "")
    calls = [(names[i], json.loads(args[i] or "{}")) for i in sorted(args)]
    return "".join(text), calls, usage, finish(raw, calls)


def interactions(names=CASSETTES, path="/chat/completions"):
    if CORPUS is None:
        return []
    out = []
    for name in names:
        for i, item in enumerate(load_cassette(CORPUS / "openai" / "simonw+llm" / name)):
            if item.path.endswith(path) and item.status == 200:
                out.append(pytest.param(item, id=f"{name}#{i}"))
    return out


@pytest.mark.replay
@pytest.mark.parametrize("item", interactions())
async def test_replay(item):
    request = item.request_json()
    with FakeServer() as server:
        server.add("POST", "/v1/chat/completions", reply_for(item))
        config = {"providers": {"openai": {"api_key": "sk-replay", "base_url": server.url + "/v1"}}}
        async with plugbay.Client(config, env={}) as client:
            messages = [plugbay.Message.user("replayed")]
            if request.get("stream"):
                async with client.astream("openai/" + request["model"], messages) as stream:
                    result = await stream.get_completion()
            else:
                result = await client.acomplete("openai/" + request["model"], messages)
    text, calls, usage, reason = expected(item)
    assert result.text == text
    assert [(c.name, c.args) for c in result.tool_calls] == calls
    assert result.finish_reason == reason
    assert result.usage is not None
    assert result.usage.input_tokens == usage["prompt_tokens"]
    assert result.usage.output_tokens == usage["completion_tokens"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    assert result.usage.cached_input_tokens == cached


@pytest.mark.replay
@pytest.mark.parametrize("item", interactions(RESPONSES, "/responses"))
async def test_replay_responses(item):
    sent = item.request_json()
    tools = [plugbay.Tool(name=t["name"], description=t.get("description"),
                          parameters=t["parameters"]) for t in sent.get("tools") or ()]
    messages = responses_messages(sent["input"])
    with FakeServer() as server:
        server.add("POST", "/v1/responses", reply_for(item))
        config = {"providers": {"openai": {"api_key": "sk-replay", "wire_api": "responses",
                                           "base_url": server.url + "/v1"}}}
        async with plugbay.Client(config, env={}) as client:
            target = "openai/" + sent["model"]
            if sent.get("stream"):
                async with client.astream(target, messages, tools=tools or None,
                                          reasoning_effort="low") as stream:
                    result = await stream.get_completion()
            else:
                result = await client.acomplete(target, messages, tools=tools or None,
                                                reasoning_effort="low")
        body = server.last.json()
    assert body["input"] == sent["input"] and body["reasoning"] == sent["reasoning"]
    assert body.get("tools", []) == sent.get("tools", [])
    text, calls, usage = responses_truth(item)
    assert result.text == text
    assert [(c.name, c.args) for c in result.tool_calls] == calls
    assert result.finish_reason == ("tool_calls" if calls else "stop")
    assert result.usage == plugbay.Usage(
        input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"],
        cached_input_tokens=usage["input_tokens_details"]["cached_tokens"],
        reasoning_tokens=usage["output_tokens_details"]["reasoning_tokens"])


def streamed(names=CASSETTES):
    return [p for p in interactions(names) if p.values[0].request_json().get("stream")]


@pytest.mark.replay
@pytest.mark.parametrize("item", streamed())
async def test_replay_through_the_cli(item, tmp_path):
    """``plugbay complete --json --stream`` prints what the library returns for the same
    recorded stream: text, tool calls, finish reason and usage."""
    from plugbay.testing.cli import run_cli

    model = "openai/" + item.request_json()["model"]
    with FakeServer() as server:
        server.add("POST", "/v1/chat/completions", reply_for(item))
        config = {"providers": {"openai": {"api_key": "sk-replay",
                                           "base_url": server.url + "/v1"}},
                  "ledger": {"path": "off"}, "routing": {"retries": 0}}
        async with plugbay.Client(config, env={}) as client, \
                client.astream(model, "replayed") as stream:
            library = await stream.get_completion()
        shown = run_cli(["complete", "--json", "--stream", "-m", model, "replayed"], config,
                        tmp_path)
    assert shown.code == 0, shown.stderr
    printed = shown.json()
    assert printed["text"] == library.text
    assert printed["tool_calls"] == [c.model_dump() for c in library.tool_calls]
    assert printed["finish_reason"] == library.finish_reason
    assert printed["usage"] == library.usage.model_dump()
