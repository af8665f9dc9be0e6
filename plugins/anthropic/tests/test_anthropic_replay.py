"""Replay recorded Anthropic traffic (../shared/corpus/anthropic) through the plugin.

Each recorded response is served unchanged by a FakeServer, the gzip ones with
``Content-Encoding: gzip`` and split across several chunks, so the client's
incremental gzip and SSE handling is exercised. What the plugin reports is compared
with figures read straight out of the recording.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import Message, Tool, ToolCall

pytestmark = [pytest.mark.replay, pytest.mark.timeout(30)]

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "anthropic"
LLM = CORPUS / "simonw+llm-anthropic"
SDK = CORPUS / "anthropics+anthropic-sdk-python"
CASSETTES = sorted(p.name for p in LLM.glob("*.yaml")) if LLM.is_dir() else []
TRANSCRIPTS = sorted(p.name for p in SDK.glob("*.txt")) if SDK.is_dir() else []
KEEP_HEADERS = ("content-type", "content-encoding", "request-id")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"corpus not present: {path}")
    return path


def load_cassette(name: str) -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    with _need(LLM / name).open("rb") as fh:
        return yaml.safe_load(fh)["interactions"]  # type: ignore[no-any-return]


def reply_for(interaction: dict[str, Any]) -> tuple[Reply, str]:
    """The recorded response as a streamed reply, and its decoded SSE text."""
    import gzip

    response = interaction["response"]
    body = response["body"]["string"]
    raw = body if isinstance(body, bytes) else body.encode()
    headers = [(k, v[0]) for k, v in response["headers"].items()
               if k.lower() in KEEP_HEADERS or k.lower().startswith("anthropic-ratelimit-")]
    encoded = any(k.lower() == "content-encoding" for k, _ in headers)
    text = gzip.decompress(raw).decode() if encoded else raw.decode()
    third = max(len(raw) // 3, 1)
    parts = [raw[i:i + third] for i in range(0, len(raw), third)]
    return Reply.chunks(parts, content_type="text/event-stream", status=response["status"]["code"],
                        headers=headers), text


def recorded(sse: str) -> dict[str, Any]:
    """What a careful reader of the raw events sees: text, tool calls, usage, stop reason."""
    events = [json.loads(line[5:]) for line in sse.splitlines() if line.startswith("data:")]
    text, thinking, calls, kinds = [], [], {}, {}
    usage: dict[str, Any] = {}
    stop = None
    for e in events:
        if e["type"] == "message_start":
            usage.update(e["message"]["usage"])
        elif e["type"] == "content_block_start":
            kinds[e["index"]] = e["content_block"]
            if e["content_block"]["type"] == "tool_use":
                calls[e["index"]] = [e["content_block"]["name"], ""]
        elif e["type"] == "content_block_delta":
            d = e["delta"]
            if d["type"] == "text_delta":
                text.append(d["text"])
            elif d["type"] == "thinking_delta":
                thinking.append(d["thinking"])
            elif d["type"] == "input_json_delta" and e["index"] in calls:
                calls[e["index"]][1] += d["partial_json"]
        elif e["type"] == "message_delta":
            usage.update(e.get("usage") or {})
            stop = e["delta"]["stop_reason"]
    return {"text": "".join(text), "thinking": "".join(thinking), "stop": stop, "usage": usage,
            "calls": [(n, a) for _, (n, a) in sorted(calls.items())]}


def request_args(interaction: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sent = json.loads(interaction["request"]["body"])
    kw: dict[str, Any] = {"max_tokens": sent["max_tokens"]}
    if sent.get("stop_sequences"):
        kw["stop"] = sent["stop_sequences"]
    if sent.get("tools"):
        kw["tools"] = [Tool(name=t["name"], parameters=t.get("input_schema") or {})
                       for t in sent["tools"] if "input_schema" in t]
    if sent.get("thinking"):
        kw["thinking"] = sent["thinking"]  # passed through request.extra
    return sent["model"], kw


async def run(server: FakeServer, model: str, messages: Any, **kw: Any) -> plugbay.Completion:
    client = plugbay.Client({"providers": {"anthropic": {
        "api_key": "sk-ant-replay-0000000000", "base_url": server.url}}}, env={})
    async with client:
        async with client.astream(f"anthropic/{model}", messages, **kw) as stream:
            texts = [e.text async for e in stream if e.type == "text"]
        done = stream.completion
    assert done is not None
    assert "".join(texts) == done.text
    return done


def check(done: plugbay.Completion, want: dict[str, Any]) -> None:
    assert done.text == want["text"]
    assert (done.reasoning or "") == want["thinking"]
    assert done.raw_finish_reason == want["stop"]
    assert [(c.name, c.args) for c in done.tool_calls] == [
        (n, json.loads(a or "{}")) for n, a in want["calls"]]
    u, usage = want["usage"], done.usage
    assert usage is not None
    reads, writes = u.get("cache_read_input_tokens") or 0, u.get("cache_creation_input_tokens") or 0
    assert usage.input_tokens == u["input_tokens"] + reads + writes
    assert usage.output_tokens == u["output_tokens"]
    assert (usage.cached_input_tokens, usage.cache_write_tokens) == (reads, writes)
    if want["thinking"]:  # a streamed answer keeps its signed thinking, to echo it back
        blocks = done.extra["provider_data"]["thinking_blocks"]
        assert "".join(b.get("thinking", "") for b in blocks) == want["thinking"]
        assert all(b.get("signature") for b in blocks if b.get("type") == "thinking")


@pytest.mark.parametrize("name", CASSETTES or ["<no corpus>"])
async def test_replay_cassette(fake_server: FakeServer, name: str) -> None:
    if not CASSETTES:
        pytest.skip("../shared/corpus/anthropic is not present")
    interaction = load_cassette(name)[0]
    reply, sse = reply_for(interaction)
    fake_server.add("POST", "/v1/messages", reply)
    model, kw = request_args(interaction)
    prompt = json.loads(interaction["request"]["body"])["messages"][0]["content"][0]["text"]
    done = await run(fake_server, model, prompt, **kw)
    check(done, recorded(sse))
    sent = fake_server.last
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json()["max_tokens"] == kw["max_tokens"] and sent.json()["stream"] is True


async def test_replay_tool_round_trip(fake_server: FakeServer) -> None:
    """Both turns of test_tools.yaml: our second request matches the recorded one."""
    first, second = load_cassette("test_tools.yaml")
    fake_server.add("POST", "/v1/messages", reply_for(first)[0], reply_for(second)[0])
    model, kw = request_args(first)
    done = await run(fake_server, model, "Two names for a pet pelican", **kw)
    assert [c.id for c in done.tool_calls] == ["toolu_01LtHJmixrs9NcWQkK8hu8hj",
                                               "toolu_01N8a4jWyf116qKTMqKKmjyt"]
    assert done.finish_reason == "tool_calls"
    history = [Message.user("Two names for a pet pelican"),
               Message.assistant(" ", [ToolCall(id=c.id, name=c.name, arguments=c.arguments)
                                       for c in done.tool_calls]),
               Message.tool(done.tool_calls[0].id, "Charles"),
               Message.tool(done.tool_calls[1].id, "Sammy")]
    final = await run(fake_server, model, history, **kw)
    assert "Charles" in final.text and "Sammy" in final.text
    ours = fake_server.last.json()["messages"]
    theirs = json.loads(second["request"]["body"])["messages"]
    assert ours[1:] == theirs[1:]  # assistant tool_use turn, then one merged tool_result turn
    assert final.usage is not None and final.usage.output_tokens == 82


async def test_replay_web_search_server_tool_is_not_a_client_call(fake_server: FakeServer,
                                                                   ) -> None:
    interaction = load_cassette("test_web_search.yaml")[0]
    reply, sse = reply_for(interaction)
    fake_server.add("POST", "/v1/messages", reply)
    done = await run(fake_server, "claude-opus-4-1-20250805", "weather?")
    assert done.tool_calls == []  # web_search runs on Anthropic's side
    assert done.text == recorded(sse)["text"] and done.text.startswith("Based on the search")


async def test_replay_gzip_is_really_compressed() -> None:
    interaction = load_cassette("test_schema_prompt.yaml")[0]
    body = interaction["response"]["body"]["string"]
    assert isinstance(body, bytes) and body[:2] == b"\x1f\x8b", "expected a gzip body"


@pytest.mark.parametrize("name", TRANSCRIPTS or ["<no corpus>"])
async def test_replay_sdk_transcript(fake_server: FakeServer, name: str) -> None:
    if not TRANSCRIPTS:
        pytest.skip("../shared/corpus/anthropic is not present")
    text = _need(SDK / name).read_text()
    # The SDK keeps these fixtures without the final blank line a server always sends.
    framed = text.rstrip("\n") + "\n\n"
    events = [block + "\n\n" for block in framed.split("\n\n") if block.strip()]
    fake_server.add("POST", "/v1/messages", Reply.sse(events))
    want = recorded(text)
    done = await run(fake_server, "claude-x", "hi")
    assert done.text == want["text"]
    assert done.raw_finish_reason == want["stop"]
    assert done.usage is not None and done.usage.output_tokens == want["usage"]["output_tokens"]
    joined = [a for _, a in want["calls"]]
    assert [c.arguments for c in done.tool_calls] == [a or "{}" for a in joined]
    if want["stop"] == "max_tokens":  # the tool input was cut off mid-JSON
        assert done.finish_reason == "length"
        with pytest.raises(ValueError):
            _ = done.tool_calls[0].args
    elif want["stop"] == "refusal":
        assert done.finish_reason == "content_filter"
    else:
        check(done, want)


async def test_replay_transcript_cut_before_message_stop(fake_server: FakeServer) -> None:
    text = _need(SDK / "basic_response.txt").read_text()
    head = text[: text.index("event: message_stop")]
    fake_server.add("POST", "/v1/messages", Reply.sse([head]))
    with pytest.raises(errors.StreamError) as caught:
        await run(fake_server, "claude-x", "hi")
    assert caught.value.partial == "Hello there!"


@pytest.mark.parametrize("name", CASSETTES or ["<no corpus>"])
def test_replay_cassette_through_the_cli(fake_server: FakeServer, name: str,
                                         tmp_path: Path) -> None:
    """``plugbay complete --json --stream`` (a real subprocess) prints the completion the
    recorded stream holds: text, thinking, tool calls, stop reason and usage."""
    from plugbay.testing.cli import run_cli

    if not CASSETTES:
        pytest.skip("../shared/corpus/anthropic is not present")
    interaction = load_cassette(name)[0]
    reply, sse = reply_for(interaction)
    fake_server.add("POST", "/v1/messages", reply)
    model, kw = request_args(interaction)
    config = {"providers": {"anthropic": {"api_key": "sk-ant-replay-0000000000",
                                          "base_url": fake_server.url}},
              "ledger": {"path": "off"}, "routing": {"retries": 0}}
    shown = run_cli(["complete", "--json", "--stream", "-m", f"anthropic/{model}",
                     "--max-tokens", str(kw["max_tokens"]), "replayed"], config, tmp_path)
    assert shown.code == 0, shown.stderr
    check(plugbay.Completion.model_validate(shown.json()), recorded(sse))
