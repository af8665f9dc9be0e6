"""The Anthropic surface, driven by the official ``anthropic`` SDK against a running
gateway whose upstream is an OpenAI-wire provider: any provider behind one SDK."""

from __future__ import annotations

import pytest
from _gateway_support import GatewayProcess, anthropic_client, async_anthropic_client

from plugbay.testing.server import FakeServer

anthropic = pytest.importorskip("anthropic")
pytestmark = pytest.mark.timeout(60)

HI = [{"role": "user", "content": "hi"}]
WEATHER = [{"name": "get_weather", "description": "weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def test_message(gateway: GatewayProcess, upstream: FakeServer) -> None:
    with anthropic_client(gateway) as client:
        msg = client.messages.create(model="openai/gpt-4o-mini", max_tokens=64, messages=HI,
                                     system="be brief",
                                     stop_sequences=["END"])
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from upstream"
    assert msg.stop_reason == "end_turn" and msg.role == "assistant"
    assert msg.usage.input_tokens == 11 and msg.usage.output_tokens == 7
    sent = upstream.last.json()
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 64
    assert sent["stop"] == ["END"]


async def test_async_stream_text(gateway: GatewayProcess) -> None:
    async with async_anthropic_client(gateway) as client, client.messages.stream(
            model="openai/gpt-4o-mini", max_tokens=64, messages=HI) as stream:
        texts = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "Hello from upstream"
    assert final.content[0].text == "Hello from upstream"
    assert final.usage.output_tokens == 7 and final.stop_reason == "end_turn"


def test_tool_use_and_result(gateway: GatewayProcess, upstream: FakeServer) -> None:
    with anthropic_client(gateway) as client:
        msg = client.messages.create(model="openai/gpt-4o-mini", max_tokens=64, messages=HI,
                                     tools=WEATHER,
                                     tool_choice={"type": "tool", "name": "get_weather"})
        use = msg.content[0]
        assert use.type == "tool_use" and use.name == "get_weather"
        assert use.input == {"city": "Paris"} and msg.stop_reason == "tool_use"
        client.messages.create(model="openai/gpt-4o-mini", max_tokens=64, messages=[
            *HI, {"role": "assistant", "content": [use.model_dump()]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                          "content": "sunny"}]}])
    sent = upstream.last.json()["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {"role": "tool", "tool_call_id": use.id, "content": "sunny"}


def test_streamed_tool_use(gateway: GatewayProcess) -> None:
    with anthropic_client(gateway) as client, client.messages.stream(
            model="openai/gpt-4o-mini", max_tokens=64, messages=HI, tools=WEATHER) as stream:
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_count_tokens(gateway: GatewayProcess) -> None:
    with anthropic_client(gateway) as client:
        short = client.messages.count_tokens(model="openai/gpt-4o-mini", messages=HI)
        long = client.messages.count_tokens(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "many words here " * 200}], tools=WEATHER)
    assert 0 < short.input_tokens < long.input_tokens


@pytest.mark.parametrize(("model", "kind", "status"), [
    ("nosuch/model", anthropic.NotFoundError, 404),
    ("openai/err-429", anthropic.RateLimitError, 429),
    ("openai/err-500", anthropic.InternalServerError, 502),
    ("openai/err-400", anthropic.BadRequestError, 400),
    # overloaded: Anthropic's own 529 (the SDK's OverloadedError, an InternalServerError)
    ("openai/err-529", anthropic.OverloadedError, 529),
    ("openai/err-503", anthropic.OverloadedError, 529),
])
def test_error_classes(gateway: GatewayProcess, model: str, kind: type, status: int) -> None:
    with anthropic_client(gateway) as client, pytest.raises(kind) as caught:
        client.messages.create(model=model, max_tokens=10, messages=HI)
    assert caught.value.status_code == status
    assert isinstance(caught.value, anthropic.InternalServerError) is (status >= 500)
    assert caught.value.body["type"] == "error"


def test_missing_max_tokens_is_named(gateway: GatewayProcess) -> None:
    with anthropic_client(gateway) as client, pytest.raises(anthropic.BadRequestError) as e:
        client.post("/v1/messages", body={"model": "openai/gpt-4o-mini", "messages": HI},
                    cast_to=object)
    assert "max_tokens" in e.value.message


def test_wrong_key(gateway: GatewayProcess) -> None:
    with anthropic_client(gateway, key="sk-ant-wrong") as client, \
            pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="openai/gpt-4o-mini", max_tokens=10, messages=HI)


def test_failure_mid_stream_is_an_error_event(gateway: GatewayProcess) -> None:
    with anthropic_client(gateway) as client, pytest.raises(anthropic.APIStatusError), \
            client.messages.stream(model="openai/cut", max_tokens=10, messages=HI) as stream:
        for _ in stream:
            pass
