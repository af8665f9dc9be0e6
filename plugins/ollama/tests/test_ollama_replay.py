"""Replay Ollama's official documentation examples (../shared/corpus/ollama) in place.

There is no recorded native ``/api/chat`` traffic, only the official examples in
``docs/api.md`` (chat requests and responses, ``/api/tags``, ``/api/ps``,
``/api/version``), ``docs/api/streaming.mdx`` (an NDJSON stream) and
``docs/api/errors.mdx`` (an error line mid-stream). They are parsed out of the markdown
as they stand and served by the fake server; every test skips when the corpus is absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.cassettes import corpus_dir
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.replay

_CORPUS = corpus_dir(Path(__file__).parent)
DOCS = _CORPUS / "ollama" / "ollama+ollama" if _CORPUS else None
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.S)
_CURL_BODY = re.compile(r"-d '(.*?)'\s*```", re.S)


def _doc(name: str) -> str:
    if DOCS is None or not (DOCS / name).is_file():
        pytest.skip(f"../shared/corpus/ollama/ollama+ollama/{name} is not present")
    return (DOCS / name).read_text("utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end > 0 else None]


def chat_examples() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(title, request body, response objects) for every /api/chat example that parses."""
    if DOCS is None or not (DOCS / "api.md").is_file():
        return []
    section = _section((DOCS / "api.md").read_text("utf-8"), "## Generate a chat completion")
    out = []
    for chunk in section.split("\n#### ")[1:]:
        title = chunk.splitlines()[0].strip()
        request_part, _, response_part = chunk.partition("Response")
        body = _CURL_BODY.search(request_part)
        try:
            request = json.loads(body.group(1)) if body else None
            responses = [json.loads(b) for b in _JSON_BLOCK.findall(response_part)]
        except ValueError:
            continue  # an example with elisions is documentation, not replayable data
        if request and responses and request.get("messages") is not None:
            out.append((title, request, responses))
    return out


EXAMPLES = chat_examples()


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    async with plugbay.Client({"providers": {"ollama": {"base_url": fake_server.url}}},
                              env={}) as c:
        yield c


def _messages(request: dict[str, Any]) -> list[plugbay.Message]:
    out = []
    for m in request["messages"]:
        if m["role"] == "tool":
            out.append(plugbay.Message(role="tool", content=m["content"], tool_call_id="t",
                                       name=m.get("tool_name")))
        elif m.get("tool_calls"):
            calls = [plugbay.ToolCall(id=f"c{i}", name=c["function"]["name"],
                                      arguments=json.dumps(c["function"]["arguments"]))
                     for i, c in enumerate(m["tool_calls"])]
            out.append(plugbay.Message(role="assistant", content=m.get("content") or None,
                                       tool_calls=calls))
        else:  # images in the docs are placeholders, not base64: send the text only
            out.append(plugbay.Message(role=m["role"], content=m.get("content") or ""))
    return out


@pytest.mark.timeout(20)
@pytest.mark.parametrize("example", EXAMPLES or [None], ids=[e[0] for e in EXAMPLES] or ["none"])
async def test_chat_examples(fake_server: FakeServer, client: plugbay.Client,
                             example: tuple[str, dict[str, Any], list[dict[str, Any]]] | None,
                             ) -> None:
    if example is None:
        pytest.skip("no /api/chat examples found in ../shared/corpus/ollama")
    _, request, responses = example
    final = responses[-1]
    assert final["done"] is True
    tools = [plugbay.Tool(name=t["function"]["name"], parameters=t["function"]["parameters"])
             for t in request.get("tools") or ()]
    streamed = request.get("stream", True)  # the server's default
    if streamed:
        fake_server.add("POST", "/api/chat", Reply.ndjson(responses))
        async with client.astream(f"ollama/{request['model']}", _messages(request),
                                  tools=tools or None) as s:
            result = await s.get_completion()
    else:
        fake_server.add("POST", "/api/chat", Reply.json(final))
        result = await client.acomplete(f"ollama/{request['model']}", _messages(request),
                                        tools=tools or None)
    sent = fake_server.last.json()
    assert sent["stream"] is streamed and sent["model"] == request["model"]
    messages = [r.get("message") or {} for r in responses]  # a final line may have none
    assert result.text == "".join(m.get("content") or "" for m in messages)
    if "eval_count" in final:
        assert result.usage is not None
        assert result.usage.input_tokens == final["prompt_eval_count"]
        assert result.usage.output_tokens == final["eval_count"]
    else:  # load/unload answers carry no counters: no usage rather than a made-up 0
        assert result.usage is None
    calls = [c for m in messages for c in m.get("tool_calls") or ()]
    assert [(c.name, c.args) for c in result.tool_calls] == \
        [(c["function"]["name"], c["function"]["arguments"]) for c in calls]
    expected = {"stop": "stop", "length": "length"}.get(final.get("done_reason", "stop"),
                                                        "other")
    assert result.finish_reason == ("tool_calls" if calls else expected)
    assert result.raw_finish_reason == final.get("done_reason")
    if not streamed and "total_duration" in final:
        assert result.extra["durations_ns"]["total_duration"] == final["total_duration"]


def test_examples_were_found() -> None:
    if DOCS is None:
        pytest.skip("../shared/corpus/ollama is not present")
    titles = [t for t, _, _ in EXAMPLES]
    assert "Chat request (Streaming)" in titles and "Chat request (No streaming)" in titles
    assert "Unload a model" in titles and len(titles) >= 8


@pytest.mark.timeout(10)
async def test_streaming_doc_stream_ends_at_done_line(fake_server: FakeServer,
                                                      client: plugbay.Client) -> None:
    text = _doc("streaming.mdx")
    lines = _JSON_BLOCK.findall(text)[0].strip().splitlines()
    assert json.loads(lines[-1])["done"] is True
    # /api/generate lines (`response`, not `message`): the framing and the done line are
    # what this exercises; the final line also carries done_reason.
    fake_server.add("POST", "/api/chat", Reply.ndjson(lines))
    async with client.astream("ollama/gemma4", "hi") as s:
        result = await s.get_completion()
    assert (result.finish_reason, result.raw_finish_reason) == ("stop", "stop")


@pytest.mark.timeout(10)
async def test_errors_doc_mid_stream_error(fake_server: FakeServer,
                                           client: plugbay.Client) -> None:
    text = _doc("errors.mdx")
    blocks = _JSON_BLOCK.findall(text)
    whole = json.loads(blocks[0])
    lines = blocks[1].strip().splitlines()
    assert "error" in json.loads(lines[-1])
    fake_server.add("POST", "/api/chat", Reply.ndjson(lines))
    with pytest.raises(errors.StreamError, match=json.loads(lines[-1])["error"]):
        async with client.astream("ollama/gemma4", "hi") as s:
            await s.get_completion()
    fake_server.add("POST", "/api/chat", Reply.json(whole, status=500))
    with pytest.raises(errors.ProviderError, match=whole["error"]):
        await client.acomplete("ollama/gemma4", "hi")


async def test_tags_ps_version_examples(fake_server: FakeServer,
                                        client: plugbay.Client) -> None:
    text = _doc("api.md")
    tags = json.loads(_JSON_BLOCK.findall(_section(text, "## List Local Models"))[0])
    ps = json.loads(_JSON_BLOCK.findall(_section(text, "## List Running Models"))[0])
    version = json.loads(_JSON_BLOCK.findall(_section(text, "## Version"))[0])
    fake_server.add("GET", "/api/tags", Reply.json(tags))
    fake_server.add("GET", "/api/ps", Reply.json(ps))
    fake_server.add("GET", "/api/version", Reply.json(version))
    models = await client.amodels("ollama")
    assert [m.id for m in models] == [m["name"] for m in tags["models"]]
    first = tags["models"][0]
    assert models[0].extra["quantization_level"] == first["details"]["quantization_level"]
    [h] = await client.ahealth("ollama")
    assert h.status == "ok" and version["version"] in (h.detail or "")
    assert ps["models"][0]["name"] in (h.detail or "")
