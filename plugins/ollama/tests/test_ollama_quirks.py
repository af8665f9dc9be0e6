"""Ollama-specific behaviour against a real fake server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from plugbay_ollama import base_url

import plugbay
from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

M = "ollama/qwen3:8b"


def line(content: str = "", **message: Any) -> dict[str, Any]:
    return {"model": "qwen3:8b", "created_at": "2025-10-26T17:15:24Z",
            "message": {"role": "assistant", "content": content, **message}, "done": False}


def final(reason: str = "stop", **extra: Any) -> dict[str, Any]:
    return {"model": "qwen3:8b", "created_at": "2025-10-26T17:15:25Z",
            "message": {"role": "assistant", "content": "", **extra}, "done": True,
            "done_reason": reason, "total_duration": 2_000_000_000, "load_duration": 500_000,
            "prompt_eval_count": 26, "prompt_eval_duration": 1_000, "eval_count": 4,
            "eval_duration": 1_500_000_000}


async def drain(client: plugbay.Client, model: str = M, **kw: Any) -> plugbay.Completion:
    async with client.astream(model, "hi", **kw) as s:
        return await s.get_completion()


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"ollama": {"base_url": fake_server.url, "keep_alive": "10m",
                                       "options": {"num_ctx": 8192, "temperature": 0.9}}}}
    async with plugbay.Client(config, env={}) as c:
        yield c


async def test_body_options_format_think_and_explicit_stream(fake_server: FakeServer,
                                                             client: plugbay.Client) -> None:
    fake_server.add("POST", "/api/chat", Reply.json(final(content="{}")))
    await client.acomplete(M, "json please", max_tokens=64, temperature=0.1, top_p=0.5,
                           stop=["\n\n"], seed=7, reasoning_effort="low",
                           response_format=plugbay.ResponseFormat(schema={"type": "object"}),
                           options={"top_k": 20})
    body = fake_server.last.json()
    assert body["stream"] is False  # the server would stream without it
    assert body["options"] == {"num_ctx": 8192, "temperature": 0.1, "num_predict": 64,
                               "top_p": 0.5, "stop": ["\n\n"], "seed": 7, "top_k": 20}
    assert body["keep_alive"] == "10m" and body["think"] == "low"
    assert body["format"] == {"type": "object"}
    assert "authorization" not in fake_server.last.headers  # no key locally
    fake_server.add("POST", "/api/chat", Reply.ndjson([line("x"), final()]))
    await drain(client, response_format=plugbay.ResponseFormat(type="json_object"),
                reasoning_effort="minimal")
    body = fake_server.last.json()
    assert body["stream"] is True and body["format"] == "json" and body["think"] is False


async def test_images_tools_and_tool_results(fake_server: FakeServer,
                                             client: plugbay.Client) -> None:
    fake_server.add("POST", "/api/chat", Reply.json(final(content="sunny")))
    call = plugbay.ToolCall(id="call_1", name="weather", arguments='{"city": "Oslo"}')
    history = [plugbay.Message.user("what is this?", plugbay.ImagePart.from_bytes(b"\x89PNG")),
               plugbay.Message(role="assistant", tool_calls=[call], reasoning="need weather"),
               plugbay.Message.tool("call_1", "12C")]
    await client.acomplete(M, history, tools=[plugbay.Tool(name="weather"),
                                              plugbay.Tool(name="other")],
                           tool_choice=plugbay.ToolChoice(name="weather"))
    body = fake_server.last.json()
    user, assistant, tool = body["messages"]
    assert user == {"role": "user", "content": "what is this?", "images": ["iVBORw=="]}
    assert assistant["tool_calls"] == [{"function": {"name": "weather",
                                                     "arguments": {"city": "Oslo"}}}]
    assert assistant["thinking"] == "need weather"
    assert tool == {"role": "tool", "content": "12C", "tool_name": "weather"}
    assert [t["function"]["name"] for t in body["tools"]] == ["weather"]
    with pytest.raises(errors.InvalidRequestError, match="base64"):
        await client.acomplete(M, [plugbay.Message.user(
            "x", plugbay.ImagePart(url="https://example.com/cat.png"))])


async def test_tool_calls_get_stable_ids(fake_server: FakeServer,
                                         client: plugbay.Client) -> None:
    calls = [{"function": {"name": "f", "arguments": {"a": 1}}},
             {"function": {"name": "f", "arguments": {"a": 1}}}]
    fake_server.add("POST", "/api/chat", Reply.json(final(tool_calls=calls)))
    first = await client.acomplete(M, "x")
    again = await client.acomplete(M, "x")
    assert [c.id for c in first.tool_calls] == [c.id for c in again.tool_calls]
    assert first.tool_calls[0].id != first.tool_calls[1].id  # position is part of the id
    assert first.tool_calls[0].args == {"a": 1} and first.finish_reason == "tool_calls"
    assert first.raw_finish_reason == "stop"
    fake_server.add("POST", "/api/chat", Reply.ndjson([line(tool_calls=calls[:1]),
                                                       line(tool_calls=calls[1:]), final()]))
    streamed = await drain(client)
    assert [c.id for c in streamed.tool_calls] == [c.id for c in first.tool_calls]
    with_id = [{"id": "call_xyz", "function": {"name": "g", "arguments": {}}}]
    fake_server.add("POST", "/api/chat", Reply.json(final(tool_calls=with_id)))
    assert (await client.acomplete(M, "x")).tool_calls[0].id == "call_xyz"


async def test_usage_durations_and_thinking(fake_server: FakeServer,
                                            client: plugbay.Client) -> None:
    fake_server.add("POST", "/api/chat", Reply.json(final("length", content="Hi",
                                                          thinking="hmm")))
    result = await client.acomplete(M, "x")
    assert (result.text, result.reasoning, result.finish_reason) == ("Hi", "hmm", "length")
    assert result.usage == plugbay.Usage(input_tokens=26, output_tokens=4)
    assert result.extra["durations"]["total"] == 2.0
    assert result.extra["durations_ns"]["eval_duration"] == 1_500_000_000
    fake_server.add("POST", "/api/chat", Reply.ndjson([line(thinking="a"), line(thinking="b"),
                                                       line("Hel"), line("lo"), final()]))
    async with client.astream(M, "hi") as s:
        kinds = [e.type async for e in s]
    assert kinds == ["reasoning", "reasoning", "text", "text", "usage", "finish"]
    assert s.completion is not None and s.completion.reasoning == "ab"


@pytest.mark.timeout(10)
async def test_error_line_mid_stream_is_raised_typed(fake_server: FakeServer,
                                                     client: plugbay.Client) -> None:
    fake_server.add("POST", "/api/chat", Reply.ndjson([
        line("Yes"), line("."), {"error": "an error was encountered while running the model"}]))
    with pytest.raises(errors.StreamError, match="error was encountered") as caught:
        await drain(client)
    assert caught.value.partial == "Yes."
    fake_server.add("POST", "/api/chat", Reply.ndjson([{"error": "model 'qwen3:8b' not found"}]))
    with pytest.raises(errors.ModelNotFoundError):
        await drain(client)
    fake_server.add("POST", "/api/chat", Reply.json({"error": "boom"}))  # 200 with an error
    with pytest.raises(errors.ProviderError, match="boom"):
        await client.acomplete(M, "x")


@pytest.mark.timeout(10)
async def test_missing_done_line_is_a_stream_error(fake_server: FakeServer,
                                                   client: plugbay.Client) -> None:
    fake_server.add("POST", "/api/chat", Reply.ndjson([line("a"), line("b")]))
    with pytest.raises(errors.StreamError, match="done") as caught:
        await drain(client)
    assert caught.value.partial == "ab"
    fake_server.add("POST", "/api/chat", Reply.ndjson([line("a"), final()], cut_after=1))
    with pytest.raises(errors.APIError):
        await drain(client)
    # A final line without its trailing newline still ends the stream properly.

    fake_server.add("POST", "/api/chat", Reply.chunks(
        [json.dumps(line("ok")) + "\n", json.dumps(final())],
        content_type="application/x-ndjson"))
    assert (await drain(client)).text == "ok"


@pytest.mark.parametrize(("status", "message", "cls"), [
    (400, "invalid options", errors.InvalidRequestError),
    (404, "model 'nope' not found, try pulling it first", errors.ModelNotFoundError),
    (429, "rate limited", errors.RateLimitError),
    (500, "input length exceeds the context length", errors.ContextLengthError),
    (502, "cloud model unreachable", errors.ProviderError),
])
async def test_http_errors(fake_server: FakeServer, client: plugbay.Client, status: int,
                           message: str, cls: type[errors.APIError]) -> None:
    fake_server.add("POST", "/api/chat", Reply.json({"error": message}, status=status))
    with pytest.raises(errors.APIError) as caught:
        await client.acomplete(M, "x")
    assert type(caught.value) is cls and message in str(caught.value)


async def test_models_and_health_detail(fake_server: FakeServer,
                                        client: plugbay.Client) -> None:
    fake_server.add("GET", "/api/tags", Reply.json({"models": [
        {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189,
         "digest": "a80c4f17", "details": {"format": "gguf", "family": "llama",
                                            "parameter_size": "3.2B",
                                            "quantization_level": "Q4_K_M"}}]}))
    [info] = await client.amodels("ollama")
    assert info.id == "llama3.2:latest" and info.supports_tools is None
    assert info.extra["parameter_size"] == "3.2B" and info.extra["size"] == 2019393189
    fake_server.add("GET", "/api/version", Reply.json({"version": "0.12.6"}))
    fake_server.add("GET", "/api/ps", Reply.json({"models": [{"name": "llama3.2:latest"}]}))
    [h] = await client.ahealth("ollama")
    assert h.status == "ok" and "0.12.6" in (h.detail or "") and "llama3.2" in (h.detail or "")
    fake_server.add("GET", "/api/ps", Reply.json({"error": "x"}, status=500))
    [h] = await client.ahealth("ollama")
    assert h.status == "ok" and "loaded" not in (h.detail or "")


async def test_ollama_host_and_cloud_key(fake_server: FakeServer) -> None:
    fake_server.add("POST", "/api/chat", Reply.json(final(content="hi")))
    env = {"OLLAMA_HOST": f"127.0.0.1:{fake_server.port}", "OLLAMA_API_KEY": "ollama-key-123"}
    async with plugbay.Client({}, env=env) as c:
        assert (await c.acomplete(M, "x")).text == "hi"
    assert fake_server.last.headers["authorization"] == "Bearer ollama-key-123"


@pytest.mark.parametrize(("host", "url"), [
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("gpu-box:9999", "http://gpu-box:9999"),
    ("gpu-box", "http://gpu-box:11434"),
    ("https://ollama.example.com", "https://ollama.example.com:443"),
    ("http://10.0.0.5:11434/", "http://10.0.0.5:11434"),
    ("[::1]:8080", "http://[::1]:8080"),
])
def test_ollama_host_forms(host: str, url: str) -> None:
    assert base_url(ProviderContext("ollama", "ollama", env={"OLLAMA_HOST": host})) == url
    ctx = ProviderContext("ollama", "ollama",
                          env={"OLLAMA_HOST": host, "OLLAMA_BASE_URL": "http://b:1"})
    assert base_url(ctx) == "http://b:1"  # the explicit variable wins
    assert base_url(ProviderContext("ollama", "ollama")) == "http://localhost:11434"


def test_price_is_zero_only_when_configured() -> None:
    with plugbay.Client({}, env={}) as c:
        assert c.price(M) is None
    with plugbay.Client({"providers": {"ollama": {"free": True}}}, env={}) as c:
        p = c.price(M)
        assert p is not None and (p.input, p.output) == (0.0, 0.0) and "free" in p.source
    priced = {"prices": {"qwen3:8b": {"input": 0.02, "output": 0.05}}}
    with plugbay.Client({"providers": {"ollama": priced}}, env={}) as c:
        p = c.price(M)
        assert p is not None and p.output == 0.05 and p.as_of
        assert c.price("ollama/other") is None
