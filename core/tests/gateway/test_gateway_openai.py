"""The OpenAI surface, driven by the official ``openai`` SDK (sync, async, streaming,
tools, embeddings, models and error classes) against a running gateway."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from _gateway_support import GatewayProcess, async_openai_client, openai_client

from plugbay.testing.server import FakeServer

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.timeout(60)

HI = [{"role": "user", "content": "hi"}]
WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]


def test_sync_completion(gateway: GatewayProcess, upstream: FakeServer) -> None:
    with openai_client(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI, temperature=0.2, max_tokens=20,
            user="u-1", seed=7)
    answer = raw.parse()
    assert answer.choices[0].message.content == "Hello from upstream"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens == 11 and answer.usage.completion_tokens == 7
    assert raw.headers["x-request-id"]
    sent = upstream.last.json()
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.2
    assert sent["user"] == "u-1" and sent["seed"] == 7


async def test_async_completion_and_route(gateway: GatewayProcess) -> None:
    async with async_openai_client(gateway) as client:
        answer = await client.chat.completions.create(model="smart", messages=HI)
    assert answer.choices[0].message.content == "Hello from upstream"
    assert answer.model == "smart"


def test_stream_with_usage(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        chunks = list(client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=HI, stream=True,
            stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from upstream"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 18


async def test_async_stream_without_usage(gateway: GatewayProcess) -> None:
    async with async_openai_client(gateway) as client:
        stream = await client.chat.completions.create(model="openai/gpt-4o-mini",
                                                      messages=HI, stream=True)
        chunks = [c async for c in stream]
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from upstream"


def test_tool_call(gateway: GatewayProcess, upstream: FakeServer) -> None:
    with openai_client(gateway) as client:
        answer = client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=HI, tools=WEATHER,
            tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city": "Paris"}'
    assert answer.choices[0].finish_reason == "tool_calls"
    sent = upstream.last.json()
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_streamed_tool_call_and_the_answer_back(gateway: GatewayProcess,
                                                upstream: FakeServer) -> None:
    with openai_client(gateway) as client:
        with client.chat.completions.stream(model="openai/gpt-4o-mini", messages=HI,
                                            tools=WEATHER) as stream:
            for _ in stream:
                pass
            final = stream.get_final_completion()
        call = final.choices[0].message.tool_calls[0]
        assert call.id == "call_1" and call.function.name == "get_weather"
        assert call.function.arguments == '{"city": "Paris"}'
        # the tool's result goes back as a tool message, with the assistant's call
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=[
            *HI, {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    sent = upstream.last.json()["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def test_response_format_and_image(gateway: GatewayProcess, upstream: FakeServer) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    with openai_client(gateway) as client:
        client.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": [
                {"type": "text", "text": "what is it?"},
                {"type": "image_url", "image_url": {"url": image}}]}],
            response_format={"type": "json_schema",
                             "json_schema": {"name": "thing", "schema": schema}})
    sent = upstream.last.json()
    assert sent["response_format"]["json_schema"]["schema"] == schema
    parts = sent["messages"][0]["content"]
    assert parts[1]["image_url"]["url"] == image


def test_models_lists_providers_routes_and_agents(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        models = {m.id: m.owned_by for m in client.models.list()}
        assert client.chat.completions.create(model="agent:helper", messages=HI).choices
    assert {"openai/gpt-4o-mini", "openai/gpt-4o", "smart", "agent:helper"} <= set(models)
    assert models["agent:helper"] == "plugbay-agent"


def test_reasoning_effort_reaches_the_upstream(gateway: GatewayProcess,
                                              upstream: FakeServer) -> None:
    with openai_client(gateway) as client:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI,
                                       reasoning_effort="high")
    assert upstream.last.json()["reasoning_effort"] == "high"


def test_reasoning_content_in_the_answer_and_the_stream(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        answer = client.chat.completions.create(model="openai/reasoning", messages=HI)
        chunks = [c for c in client.chat.completions.create(
            model="openai/reasoning", messages=HI, stream=True) if c.choices]
    message = answer.choices[0].message
    assert message.content == "Hello from upstream"
    assert message.model_extra["reasoning_content"] == "Thinking."  # not in the SDK's types
    thought = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                      for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert thought == "Thinking." and text == "Hello from upstream"


def test_n_above_one_is_refused_and_n_one_accepted(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI, n=2)
        assert caught.value.param == "n"
        answer = client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI, n=1)
    assert len(answer.choices) == 1


@pytest.mark.parametrize("fmt", [None, "float", "base64"])
def test_embeddings(gateway: GatewayProcess, fmt: str | None) -> None:
    extra: dict[str, Any] = {"encoding_format": fmt} if fmt else {}
    with openai_client(gateway) as client:
        out = client.embeddings.create(model="openai/embed", input=["a", "b"], **extra)
    vectors = [d.embedding for d in out.data]
    if fmt == "base64":  # the SDK leaves what it asked for explicitly undecoded
        vectors = [list(struct.unpack("<3f", base64.b64decode(v))) for v in vectors]
    assert vectors == [[0.5, -1.0, 0.25], [1.5, -1.0, 0.25]]
    assert out.usage.prompt_tokens == 4


@pytest.mark.parametrize(("model", "kind", "status"), [
    ("nosuch/model", openai.NotFoundError, 404),
    ("no-such-route", openai.NotFoundError, 404),
    ("openai/err-400", openai.BadRequestError, 400),
    ("openai/err-404", openai.NotFoundError, 404),
    ("openai/err-429", openai.RateLimitError, 429),
    ("openai/err-500", openai.InternalServerError, 502),
    ("openai/err-401", openai.InternalServerError, 502),  # the gateway's key, not the caller's
    ("openai/err-529", openai.InternalServerError, 503),  # overloaded: OpenAI's own 503
    ("openai/err-503", openai.InternalServerError, 503),
])
def test_error_classes(gateway: GatewayProcess, model: str, kind: type, status: int) -> None:
    with openai_client(gateway) as client, pytest.raises(kind) as caught:
        client.chat.completions.create(model=model, messages=HI)
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "3"


def test_bad_field_is_named(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="openai/gpt-4o-mini",
                                       messages=[{"role": "robot", "content": "x"}])
    assert caught.value.body["param"] == "messages[0].role"
    assert "robot" in caught.value.message


def test_wrong_key_is_401(gateway: GatewayProcess) -> None:
    with openai_client(gateway, key="sk-wrong") as client, \
            pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)


def test_failure_after_the_stream_began_is_an_error_event(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        stream = client.chat.completions.create(model="openai/cut", messages=HI, stream=True)
        got = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                got.append(chunk)
    assert got  # output had begun: the failure came in the stream, not as a short answer
    assert "closed the connection" in str(caught.value)  # the upstream's failure, named
