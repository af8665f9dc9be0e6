"""The local plugin against fake vLLM, llama.cpp, LM Studio and Ollama servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def make(server: FakeServer | None, name: str = "local", **options: Any) -> plugbay.Client:
    if server is not None:
        options.setdefault("base_url", server.url + "/v1")
    providers: dict[str, Any] = {name: options}
    if name != "local":
        providers[name]["plugin"] = "local"
    return plugbay.Client({"providers": providers}, env={})


def answer(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "created": 1,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10},
            **extra}


async def test_missing_base_url_is_a_clear_config_error() -> None:
    async with make(None) as client:
        with pytest.raises(errors.ConfigError) as caught:
            await client.acomplete("local/llama", "hi")
        assert "LOCAL_BASE_URL" in str(caught.value) and "base_url" in str(caught.value)
        [health] = await client.ahealth("local")
        assert health.status == "down" and "LOCAL_BASE_URL" in (health.detail or "")


async def test_instance_name_gives_the_variable(server: FakeServer) -> None:
    async with plugbay.Client({"providers": {"lab-gpu": {"plugin": "local"}}},
                              env={}) as client:
        with pytest.raises(errors.ConfigError, match="LAB_GPU_BASE_URL"):
            await client.acomplete("lab-gpu/llama", "hi")
    server.add("POST", "/v1/chat/completions", Reply.json(answer({"content": "hey"})))
    env = {"LAB_GPU_BASE_URL": server.url + "/v1"}
    async with plugbay.Client({"providers": {"lab-gpu": {"plugin": "local"}}},
                              env=env) as client:
        result = await client.acomplete("lab-gpu/llama", "hi")
    assert result.text == "hey" and result.provider == "lab-gpu"


async def test_key_is_optional(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(answer({"content": "ok"})))
    async with make(server) as client:
        await client.acomplete("local/llama", "hi")
    assert "authorization" not in server.last.headers
    async with make(server, api_key="token-abc-123456") as client:
        await client.acomplete("local/llama", "hi")
    assert server.last.headers["authorization"] == "Bearer token-abc-123456"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_in_either_field(server: FakeServer, field: str) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(answer(
        {"role": "assistant", "content": "4", field: "2+2 is 4"})))
    chunks = [
        {"id": "c", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {field: "thinking"}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {"content": "4"}, "finish_reason": "stop"}]},
        "data: [DONE]\n\n",
    ]
    async with make(server) as client:
        result = await client.acomplete("local/qwen3", "2+2?")
        assert (result.text, result.reasoning) == ("4", "2+2 is 4")
        server.add("POST", "/v1/chat/completions", Reply.sse(chunks))
        async with client.astream("local/qwen3", "2+2?") as stream:
            done = await stream.get_completion()
    assert (done.text, done.reasoning) == ("4", "thinking")


async def test_llamacpp_timings_kept(server: FakeServer) -> None:
    timings = {"prompt_n": 4, "prompt_ms": 12.5, "predicted_n": 6, "predicted_ms": 80.0}
    server.add("POST", "/v1/chat/completions", Reply.json(answer(
        {"role": "assistant", "content": "hi"}, timings=timings)))
    async with make(server) as client:
        result = await client.acomplete("local/gguf", "hi")
    assert result.extra["timings"] == timings


async def test_both_vllm_error_shapes(server: FakeServer) -> None:
    nested = {"error": {"message": "This model's maximum context length is 4096 tokens. "
                                   "However, you requested 5000 tokens.",
                        "type": "BadRequestError", "param": None, "code": 400}}
    flat = {"object": "error", "message": "temperature must be non-negative",
            "type": "BadRequestError", "param": None, "code": 400}
    async with make(server) as client:
        server.add("POST", "/v1/chat/completions", Reply.json(nested, status=400))
        with pytest.raises(errors.ContextLengthError):
            await client.acomplete("local/m", "hi")
        server.add("POST", "/v1/chat/completions", Reply.json(flat, status=400))
        with pytest.raises(errors.InvalidRequestError) as caught:
            await client.acomplete("local/m", "hi")
    assert caught.value.message == "temperature must be non-negative"


async def test_models_from_server_with_vllm_window(server: FakeServer) -> None:
    server.add("GET", "/v1/models", Reply.json({"object": "list", "data": [
        {"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "owned_by": "vllm",
         "root": "meta-llama/Llama-3.1-8B-Instruct", "max_model_len": 8192},
        {"id": "qwen2.5:7b", "object": "model", "owned_by": "library"},
    ]}))
    async with make(server) as client:
        models = {m.id: m for m in await client.amodels("local")}
    assert models["meta-llama/Llama-3.1-8B-Instruct"].context_window == 8192
    assert models["qwen2.5:7b"].context_window is None


async def test_price_none_unless_configured(server: FakeServer) -> None:
    async with make(server) as client:
        assert client.price("local/llama") is None
    prices = {"*": {"input": 0, "output": 0},
              "big-model": {"input": 0.2, "output": 0.6, "as_of": "2026-10-01",
                            "source": "internal GPU chargeback"}}
    server.add("POST", "/v1/chat/completions", Reply.json(answer({"content": "ok"})))
    async with make(server, prices=prices) as client:
        free = client.price("local/llama")
        assert free is not None and (free.input, free.output) == (0, 0)
        assert "providers.local.prices" in free.source and free.as_of
        big = client.price("local/big-model")
        assert big is not None and big.input == 0.2 and big.as_of == dt.date(2026, 10, 1)
        assert big.source == "internal GPU chargeback"
        result = await client.acomplete("local/llama", "hi")
        cost = client.cost(result)
        assert cost is not None and cost.total == 0
    async with make(server, prices={"only-this": {"input": 0, "output": 0}}) as client:
        assert client.price("local/other") is None  # no wildcard: unknown stays unknown


@pytest.mark.parametrize(("reply", "status"), [
    (Reply.raw(b"", content_type="application/json"), "ok"),                  # vLLM
    (Reply.json({"status": "ok"}), "ok"),                                       # llama.cpp
    (Reply.json({"error": {"code": 503, "message": "Loading model",
                           "type": "unavailable_error"}}, status=503), "degraded"),
])
async def test_health_endpoint(server: FakeServer, reply: Reply, status: str) -> None:
    server.add("GET", "/health", reply)
    async with make(server) as client:
        [health] = await client.ahealth("local")
    assert health.status == status
    assert server.last.path == "/health"


async def test_health_falls_back_to_models(server: FakeServer) -> None:
    # LM Studio and Ollama have no /health: the fake server's 404 stands in for theirs.
    server.add("GET", "/v1/models", Reply.json({"object": "list", "data": []}))
    async with make(server) as client:
        [health] = await client.ahealth("local")
        assert health.status == "ok"
        assert [r.path for r in server.requests] == ["/health", "/v1/models"]
        server.stop()
        [gone] = await client.ahealth("local", timeout=5)
    assert gone.status == "down"
