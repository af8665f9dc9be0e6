"""Replay recorded Gemini traffic (../shared/corpus/gemini) through the plugin.

The recorded bodies are gzip-compressed; they are served exactly as recorded with
``Content-Encoding: gzip``, split across several chunks. The two generation
cassettes are ``streamGenerateContent`` *without* ``alt=sse``, so the server
answers in the JSON-array framing, which the plugin must parse incrementally.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from plugbay_gemini.codec import JSONArrayDecoder

import plugbay
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import Message, Tool

pytestmark = [pytest.mark.replay, pytest.mark.timeout(30)]

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "gemini"
LLM = CORPUS / "simonw+llm-gemini"
KEY = "AIzaReplayKey0000000000000000"


def load(name: str) -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    path = LLM / name
    if not path.exists():
        pytest.skip(f"corpus not present: {path}")
    with path.open("rb") as fh:
        return yaml.safe_load(fh)["interactions"]  # type: ignore[no-any-return]


def body_of(interaction: dict[str, Any]) -> bytes:
    raw = interaction["response"]["body"]["string"]
    return raw if isinstance(raw, bytes) else raw.encode()


def decoded(interaction: dict[str, Any]) -> Any:
    raw = body_of(interaction)
    return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def reply(interaction: dict[str, Any]) -> Reply:
    response = interaction["response"]
    raw = body_of(interaction)
    headers = [(k, v[0]) for k, v in response["headers"].items()
               if k.lower() in ("content-type", "content-encoding")]
    step = max(len(raw) // 4, 1)
    return Reply.chunks([raw[i:i + step] for i in range(0, len(raw), step)],
                        status=response["status"]["code"], headers=headers)


def expected(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    meta = chunks[-1]["usageMetadata"]
    return {
        "text": "".join(p["text"] for p in parts if "text" in p and not p.get("thought")),
        "thoughts": "".join(p["text"] for p in parts if p.get("thought")),
        "calls": [(p["functionCall"]["name"], p["functionCall"]["args"])
                  for p in parts if "functionCall" in p],
        "finish": chunks[-1]["candidates"][0]["finishReason"],
        "input": meta["promptTokenCount"],
        "output": meta.get("candidatesTokenCount", 0) + meta.get("thoughtsTokenCount", 0),
        "thinking": meta.get("thoughtsTokenCount", 0),
    }


def client_for(server: FakeServer) -> plugbay.Client:
    return plugbay.Client({"providers": {"gemini": {"api_key": KEY,
                                                    "base_url": server.url + "/v1beta"}}},
                          env={})


async def stream(client: plugbay.Client, model: str, messages: Any,
                 **kw: Any) -> plugbay.Completion:
    async with client.astream(f"gemini/{model}", messages, **kw) as s:
        texts = [e.text async for e in s if e.type == "text"]
    assert s.completion is not None and "".join(texts) == s.completion.text
    return s.completion


def check(done: plugbay.Completion, want: dict[str, Any]) -> None:
    assert done.text == want["text"]
    assert (done.reasoning or "") == want["thoughts"]
    assert [(c.name, c.args) for c in done.tool_calls] == want["calls"]
    assert done.raw_finish_reason == want["finish"]
    assert done.finish_reason == ("tool_calls" if want["calls"] else "stop")
    assert done.usage is not None
    assert (done.usage.input_tokens, done.usage.output_tokens,
            done.usage.reasoning_tokens) == (want["input"], want["output"], want["thinking"])


async def test_replay_prompt_json_array_framing(fake_server: FakeServer) -> None:
    (interaction,) = load("test_prompt.yaml")
    assert "alt=sse" not in interaction["request"]["uri"]
    route = fake_server.add("POST", "/v1beta/models/gemini-flash-latest:streamGenerateContent",
                            reply(interaction))
    async with client_for(fake_server) as client:
        done = await stream(client, "gemini-flash-latest", "Name for a pet pelican")
    want = expected(decoded(interaction))
    check(done, want)
    assert done.text == "Scoop" and done.usage is not None and done.usage.output_tokens == 293
    sent = route.requests[0]
    assert sent.headers["x-goog-api-key"] == KEY and sent.query["alt"] == ["sse"]


def test_replay_json_array_decoder_byte_by_byte() -> None:
    (interaction,) = load("test_prompt.yaml")
    text = gzip.decompress(body_of(interaction))
    decoder, items = JSONArrayDecoder(), []
    for i in range(len(text)):
        items += decoder.feed(text[i:i + 1])
    assert items == json.loads(text) and not decoder.pending


async def test_replay_tools_three_turns(fake_server: FakeServer) -> None:
    turns = load("test_tools.yaml")
    route = fake_server.add("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                            *[reply(t) for t in turns])
    tool = Tool(name="pelican_name_generator", parameters={"properties": {}, "type": "object"})
    history: list[Message] = [Message.user("Two names for a pet pelican")]
    async with client_for(fake_server) as client:
        for turn, result in zip(turns, ["Charles", "Sammy", None], strict=True):
            done = await stream(client, "gemini-2.5-flash", history, tools=[tool])
            check(done, expected(decoded(turn)))
            if result is None:
                break
            history += [done.message(), Message.tool(done.tool_calls[0].id, result)]
    assert done.text == "How about Charles and Sammy?"
    ours = route.requests[-1].json()["contents"]
    assert any(p.get("thought") for c in ours for p in c["parts"]), \
        "a streamed turn must carry its thought parts (provider_data) into the next request"
    theirs = json.loads(turns[-1]["request"]["body"])["contents"]
    assert [c["role"] for c in ours] == [c["role"] for c in theirs]
    for mine, recorded in zip(ours, theirs, strict=True):
        # We echo the whole model turn, thought summaries included, as Google's SDK does;
        # the recording's client (llm-gemini) dropped them. Everything else must match.
        sent = [p for p in mine["parts"] if not p.get("thought")]
        for a, b in zip(sent, recorded["parts"], strict=True):
            if "functionResponse" in a:  # recorded in snake_case, with the SDK's own id
                want = {k: v for k, v in b["function_response"].items() if k != "id"}
                assert a["functionResponse"] == want
            elif "functionCall" in a:
                assert a["functionCall"]["name"] == b["function_call"]["name"]
            else:
                assert a == b
    decl = route.requests[0].json()["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "pelican_name_generator"


async def test_replay_models_pagination(fake_server: FakeServer) -> None:
    pages = load("test_cli_gemini_models.yaml")
    route = fake_server.add("GET", "/v1beta/models", *[reply(p) for p in pages])
    first = decoded(pages[0])
    async with client_for(fake_server) as client:
        models = await client.amodels("gemini")
    # The recording repeats its page token; the plugin must stop rather than loop.
    assert route.hits == 2
    assert route.requests[1].query["pageToken"] == [first["nextPageToken"]]
    ids = [m.id for m in models]
    assert len(ids) == len(set(ids)) and not any(i.startswith("models/") for i in ids)
    chat = [m["name"].removeprefix("models/") for m in first["models"]
            if "generateContent" in m.get("supportedGenerationMethods", [])]
    assert set(chat) <= set(ids)
    assert "veo-3.1-generate-preview" not in ids
    # the live listing keeps generateContent models; the embedding model is listed from
    # the price table, since the embed hook serves it
    assert "gemini-embedding-001" in ids
    by_id = {m.id: m for m in models}
    assert by_id["gemini-2.5-flash"].context_window == 1048576
    assert by_id["gemini-2.5-flash"].max_output_tokens == 65536
    assert by_id["gemini-2.5-flash"].display_name == "Gemini 2.5 Flash"
    assert client.price("gemini/gemini-2.5-flash") is not None


def test_replay_prompt_through_the_cli(fake_server: FakeServer, tmp_path: Path) -> None:
    """``plugbay complete --json --stream`` (a real subprocess) over the recorded stream
    prints the completion it holds: text, thoughts, finish reason and usage."""
    from plugbay.testing.cli import run_cli

    (interaction,) = load("test_prompt.yaml")
    fake_server.add("POST", "/v1beta/models/gemini-flash-latest:streamGenerateContent",
                    reply(interaction))
    config = {"providers": {"gemini": {"api_key": KEY, "base_url": fake_server.url + "/v1beta"}},
              "ledger": {"path": "off"}, "routing": {"retries": 0}}
    shown = run_cli(["complete", "--json", "--stream", "-m", "gemini/gemini-flash-latest",
                     "Name for a pet pelican"], config, tmp_path)
    assert shown.code == 0, shown.stderr
    check(plugbay.Completion.model_validate(shown.json()), expected(decoded(interaction)))
