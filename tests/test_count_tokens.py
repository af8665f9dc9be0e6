"""``client.count_tokens``: the provider's own counter where its plugin has one
(Anthropic ``/v1/messages/count_tokens``, Gemini ``countTokens``), against real servers
on 127.0.0.1 speaking their wire format; an estimate, flagged, where there is neither
that nor a local tokenizer (OpenAI's: tests/test_count_tokens_tiktoken.py)."""

from __future__ import annotations

import re

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(30)
TOOL = plugbay.Tool(name="get_weather", description="Weather for a city",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}}})


def client(server: FakeServer, provider: str, **options: str) -> plugbay.Client:
    return plugbay.Client({"providers": {provider: {"base_url": server.url, **options}},
                           "routing": {"retries": 0}, "ledger": {"path": "off"}}, env={})


async def test_anthropic_counts_with_its_endpoint(fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_anthropic")
    route = fake_server.add("POST", "/v1/messages/count_tokens",
                            Reply.json({"input_tokens": 1234}))
    messages = [plugbay.Message.system("Be brief."), plugbay.Message.user("Weather in Oslo?")]
    async with client(fake_server, "anthropic", api_key="sk-ant-test-0123456789") as c:
        counted = await c.acount_tokens("anthropic/claude-haiku-4-5", messages, tools=[TOOL])
    assert (counted.count, counted.exact, counted.source) == (1234, True, "provider")
    assert (counted.provider, counted.model) == ("anthropic", "claude-haiku-4-5")
    sent = route.requests[0].json()
    assert sent["model"] == "claude-haiku-4-5" and sent["system"]
    assert sent["tools"][0]["name"] == "get_weather"
    assert "max_tokens" not in sent and "stream" not in sent  # the endpoint refuses them
    assert route.requests[0].headers["x-api-key"] == "sk-ant-test-0123456789"


async def test_gemini_counts_the_whole_generate_request(fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_gemini")
    route = fake_server.add("POST", "/models/gemini-2.5-flash:countTokens",
                            Reply.json({"totalTokens": 57}))
    messages = [plugbay.Message.system("Be brief."), plugbay.Message.user("Weather in Oslo?")]
    async with client(fake_server, "gemini", api_key="AIza-test-0123456789") as c:
        counted = await c.acount_tokens("gemini/gemini-2.5-flash", messages, tools=[TOOL])
    assert (counted.count, counted.exact) == (57, True)
    inner = route.requests[0].json()["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-flash"
    assert inner["systemInstruction"] and inner["tools"] and inner["contents"]
    assert "generationConfig" not in inner


async def test_a_provider_error_is_the_usual_typed_error(fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_anthropic")
    fake_server.add("POST", "/v1/messages/count_tokens", Reply.json(
        {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}},
        status=401))
    async with client(fake_server, "anthropic", api_key="sk-ant-test-0123456789") as c:
        with pytest.raises(errors.AuthenticationError):
            await c.acount_tokens("anthropic/claude-haiku-4-5", "hi")


async def test_a_wrong_shaped_answer_is_malformed(fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_gemini")
    fake_server.add("POST", re.compile(".*countTokens"), Reply.json({}))
    async with client(fake_server, "gemini", api_key="AIza-test-0123456789") as c:
        with pytest.raises(errors.MalformedResponseError):
            await c.acount_tokens("gemini/gemini-2.5-flash", "hi")


def test_without_the_hook_it_estimates_and_says_so(fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_groq")  # no counter of its own, no local tokenizer
    with client(fake_server, "groq", api_key="gsk-test-0123456789") as c:
        short = c.count_tokens("groq/llama-3.3-70b-versatile", "hi")
        longer = c.count_tokens("groq/llama-3.3-70b-versatile", "hi " * 300, tools=[TOOL])
    assert short.exact is False and short.source == "estimate"
    assert 0 < short.count < longer.count
    assert fake_server.requests == []  # nothing was sent


def test_a_route_counts_for_its_first_target(fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_anthropic")
    fake_server.add("POST", "/v1/messages/count_tokens", Reply.json({"input_tokens": 9}))
    config = {"providers": {"anthropic": {"base_url": fake_server.url,
                                          "api_key": "sk-ant-test-0123456789"}},
              "routes": {"smart": {"targets": ["anthropic/claude-haiku-4-5", "openai/gpt-4o"]}},
              "ledger": {"path": "off"}}
    with plugbay.Client(config, env={}) as c:
        assert c.count_tokens("smart", "hi").count == 9
        with pytest.raises(errors.PlugbayError) as info:
            c.count_tokens("smrt", "hi")
    assert "smrt" in str(info.value) and "smart" in str(info.value)  # the nearest name
