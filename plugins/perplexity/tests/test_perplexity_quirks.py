"""Perplexity-specific behaviour (Agent API and legacy Sonar) against a real FakeServer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(20)
KEY = "pplx-quirks-test-0a1b2c3d4e"
SOURCES = [{"id": 1, "url": "https://example.org/a", "title": "A", "snippet": "a"},
           {"id": 2, "url": "https://example.org/b", "title": "B", "snippet": "b"}]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def client_for(server: FakeServer, **options: Any) -> plugbay.Client:
    options.setdefault("base_url", server.url)
    return plugbay.Client({"providers": {"perplexity": {"api_key": KEY, **options}}}, env={})


def response(output: list[dict[str, Any]], status: str = "completed",
             **more: Any) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "status": status, "model": "perplexity/sonar",
            "output": output, "usage": {"input_tokens": 10, "output_tokens": 4,
                                        "total_tokens": 14,
                                        "cost": {"total_cost": 0.0061, "currency": "USD"}},
            **more}


def message(text: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": text, "annotations": annotations or []}]}


def sse(events: list[dict[str, Any]]) -> Reply:
    return Reply.sse([{**e, "sequence_number": n} for n, e in enumerate(events)])


async def test_agent_request_shape(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", Reply.json(response([message("ok")])))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    tool = plugbay.Tool(name="lookup", parameters=schema)
    async with client_for(server, base_url=server.url + "/v1") as client:  # SDK-style base
        await client.acomplete(
            "perplexity/perplexity/sonar",
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            max_tokens=300, stop=["END"], seed=3, user="u1", reasoning_effort="low",
            tools=[tool], tool_choice=plugbay.ToolChoice(name="lookup"),
            response_format=plugbay.ResponseFormat(schema=schema, name="out"))
    req = server.last
    assert req.path == "/v1/agent"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    body = req.json()
    assert body["model"] == "perplexity/sonar"
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"role": "user", "content": "hi"}]
    assert body["max_output_tokens"] == 300
    assert body["reasoning"] == {"effort": "low"}
    assert body["tool_choice"] == {"name": "lookup"}
    assert body["tools"] == [{"type": "function", "name": "lookup", "parameters": schema},
                             {"type": "web_search"}]
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "out", "schema": schema}}
    # The Agent API rejects unknown fields with a 400: none of these may be sent.
    for field in ("messages", "stop", "seed", "user", "max_tokens", "stream_options", "text"):
        assert field not in body


@pytest.mark.parametrize(("model", "expect"), [
    ("sonar", {"model": "perplexity/sonar", "tools": [{"type": "web_search"}]}),
    ("sonar-pro", {"preset": "low"}),
    ("sonar-deep-research", {"preset": "medium"}),
    ("pro-search", {"preset": "pro-search"}),
    ("openai/gpt-5.1", {"model": "openai/gpt-5.1", "tools": [{"type": "web_search"}]}),
])
async def test_models_presets_and_legacy_names(server: FakeServer, model: str,
                                               expect: dict[str, Any]) -> None:
    server.add("POST", "/v1/agent", Reply.json(response([message("ok")])))
    async with client_for(server) as client:
        result = await client.acomplete(f"perplexity/{model}", "hi")
    body = server.last.json()
    assert {k: body.get(k) for k in expect} == expect
    if "preset" in expect:
        assert "model" not in body and "tools" not in body
        assert result.extra["preset"] == expect["preset"]


async def test_web_search_can_be_turned_off(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", Reply.json(response([message("ok")])))
    async with client_for(server, web_search=False) as client:
        await client.acomplete("perplexity/openai/gpt-5.1", "hi")
    assert "tools" not in server.last.json()


async def test_sources_citations_and_cost(server: FakeServer) -> None:
    cite = {"type": "url_citation", "url": "https://example.org/c", "start_index": 0,
            "end_index": 2, "title": "C"}
    again = {**cite, "url": "https://example.org/a"}
    output = [{"type": "search_results", "queries": ["q1"], "results": SOURCES},
              message("Hi [1]", [cite, again])]
    server.add("POST", "/v1/agent", Reply.json(response(output)))
    async with client_for(server) as client:
        result = await client.acomplete("perplexity/perplexity/sonar", "hi")
    assert result.text == "Hi [1]"
    assert result.extra["search_results"] == SOURCES
    assert result.extra["citations"] == ["https://example.org/a", "https://example.org/b",
                                         "https://example.org/c"]
    assert result.extra["search_queries"] == ["q1"]
    assert result.extra["cost"] == {"total_cost": 0.0061, "currency": "USD"}
    assert result.usage is not None and result.usage.output_tokens == 4


async def test_failed_run_inside_http_200(server: FakeServer) -> None:
    failed = response([], status="failed",
                      error={"message": "model error", "type": "internal_error", "code": 500})
    server.add("POST", "/v1/agent", Reply.json(failed))
    async with client_for(server) as client:
        with pytest.raises(errors.ProviderError) as caught:
            await client.acomplete("perplexity/perplexity/sonar", "hi")
    assert caught.value.status == 500 and caught.value.retryable is True
    assert "model error" in str(caught.value)


async def test_incomplete_is_length(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", Reply.json(response(
        [message("trunc")], status="incomplete",
        incomplete_details={"reason": "max_output_tokens"})))
    async with client_for(server) as client:
        result = await client.acomplete("perplexity/perplexity/sonar", "hi", max_tokens=16)
    assert (result.finish_reason, result.raw_finish_reason) == ("length", "max_output_tokens")


async def test_strict_unknown_field_error(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", Reply.json(
        {"error": {"message": 'invalid request body: json: unknown field "top_k"',
                   "type": "invalid_request", "code": 400, "param": "top_k"}}, status=400))
    async with client_for(server) as client:
        with pytest.raises(errors.InvalidRequestError) as caught:
            await client.acomplete("perplexity/perplexity/sonar", "hi", top_k=5)
    assert "unknown field" in caught.value.message and caught.value.code == "invalid_request"
    assert server.last.json()["top_k"] == 5  # extras pass through: the server decides


async def test_stream_failed_terminal_raises_typed(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", sse([
        {"type": "response.created", "response": {"id": "r", "status": "in_progress"}},
        {"type": "response.output_text.delta", "delta": "par"},
        {"type": "response.failed", "response": {"id": "r", "status": "failed", "error": {
            "message": "rate limited upstream", "type": "request_rate_limit_exceeded",
            "code": 429}}},
    ]))
    async with client_for(server) as client:
        with pytest.raises(errors.RateLimitError):
            async with client.astream("perplexity/perplexity/sonar", "hi") as stream:
                async for _ in stream:
                    pass


async def test_stream_error_event_and_missing_terminal(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", sse([
        {"type": "response.output_text.delta", "delta": "x"},
        {"type": "error", "error": {"message": "connection to model lost",
                                    "type": "bad_gateway", "code": 502}},
    ]))
    async with client_for(server) as client:
        with pytest.raises(errors.ProviderError) as caught:
            async with client.astream("perplexity/perplexity/sonar", "hi") as stream:
                async for _ in stream:
                    pass
        assert caught.value.status == 502
        server.add("POST", "/v1/agent", sse([
            {"type": "response.created", "response": {"id": "r", "status": "in_progress"}},
            {"type": "response.output_text.delta", "delta": "never finished"},
        ]))
        with pytest.raises(errors.StreamError):
            async with client.astream("perplexity/perplexity/sonar", "hi") as stream:
                async for _ in stream:
                    pass


async def test_stream_incomplete_and_argument_deltas(server: FakeServer) -> None:
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
            "arguments": ""}
    done = {**call, "arguments": '{"a": 1}'}
    server.add("POST", "/v1/agent", sse([
        {"type": "response.output_item.added", "output_index": 0, "item": call},
        {"type": "response.function_call_arguments.delta", "output_index": 0,
         "delta": '{"a": '},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "1}"},
        {"type": "response.function_call_arguments.done", "output_index": 0,
         "arguments": '{"a": 1}'},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.some_future_event", "whatever": None},
        {"type": "response.incomplete", "response": response(
            [done], status="incomplete", incomplete_details={"reason": "max_output_tokens"})},
    ]))
    client = client_for(server)
    async with client, client.astream("perplexity/openai/gpt-5.1", "hi") as stream:
        result = await stream.get_completion()
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [("call_1", "f", {"a": 1})]
    assert result.finish_reason == "length"
    assert result.usage is not None and result.usage.input_tokens == 10


async def test_sonar_legacy_citations_and_cumulative_stream_usage(server: FakeServer) -> None:
    def chunk(text: str, out: int, finish: str | None = None) -> dict[str, Any]:
        return {"id": "c", "model": "sonar", "object": "chat.completion.chunk",
                "citations": [s["url"] for s in SOURCES], "search_results": SOURCES,
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": 7, "completion_tokens": out, "total_tokens": 7 + out,
                          "cost": {"total_cost": 0.005 + out * 1e-6}}}

    server.add("POST", "/chat/completions", Reply.sse(
        [chunk("Hel", 1), chunk("lo", 2), chunk("!", 3, "stop"), "data: [DONE]\n\n"]))
    async with client_for(server, api="sonar") as client:
        async with client.astream("perplexity/sonar", "hi") as stream:
            kinds = [e.type async for e in stream]
        done = stream.completion
        assert done is not None and done.text == "Hello!"
        assert kinds.count("usage") == 1  # repeated per chunk, reported once
        assert done.usage is not None and done.usage.output_tokens == 3  # cumulative: last
        assert done.extra["search_results"] == SOURCES  # sources survive streaming, once
        assert done.extra["citations"] == [s["url"] for s in SOURCES]
        assert done.extra["cost"]["total_cost"] == pytest.approx(0.005003)
        body = {"id": "c", "model": "sonar", "object": "chat.completion",
                "citations": [s["url"] for s in SOURCES], "search_results": SOURCES,
                "related_questions": ["Why?"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Hello [1]"}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10,
                          "cost": {"input_tokens_cost": 7e-6, "output_tokens_cost": 3e-6,
                                   "request_cost": 0.005, "total_cost": 0.00501}}}
        server.add("POST", "/chat/completions", Reply.json(body))
        result = await client.acomplete("perplexity/sonar", "hi")
    assert result.extra["citations"] == ["https://example.org/a", "https://example.org/b"]
    assert result.extra["search_results"] == SOURCES
    assert result.extra["cost"]["total_cost"] == 0.00501
    assert result.extra["related_questions"] == ["Why?"]
    assert "messages" in server.last.json()


async def test_prices_and_models(server: FakeServer) -> None:
    server.add("GET", "/v1/models", Reply.json({"object": "list", "data": [
        {"id": "perplexity/sonar", "object": "model"},
        {"id": "anthropic/claude-sonnet-4-5", "object": "model"}]}))
    async with client_for(server) as client:
        ids = [m.id for m in await client.amodels("perplexity")]
        assert client.price("perplexity/perplexity/sonar") is None  # billed per response
        assert client.price("perplexity/sonar") is None
    assert {"perplexity/sonar", "anthropic/claude-sonnet-4-5", "fast", "low"} <= set(ids)
    assert "sonar-pro" not in ids
    async with client_for(server, api="sonar") as client:
        deep = client.price("perplexity/sonar-deep-research")
        assert deep is not None and deep.reasoning == 3.0 and deep.as_of
        assert "sonar" in [m.id for m in await client.amodels("perplexity")]


async def test_bad_api_option(server: FakeServer) -> None:
    async with client_for(server, api="chat") as client:
        with pytest.raises(errors.ConfigError, match="api must be"):
            await client.acomplete("perplexity/sonar", "hi")


def test_no_key_leaks_in_request_log(server: FakeServer) -> None:
    server.add("POST", "/v1/agent", Reply.json(
        {"error": {"message": f"bad key {KEY}", "type": "forbidden", "code": 401}},
        status=401))
    with client_for(server) as client, pytest.raises(errors.AuthenticationError) as caught:
        client.complete("perplexity/perplexity/sonar", "hi")
    assert KEY not in str(caught.value) and KEY not in json.dumps(caught.value.body)
