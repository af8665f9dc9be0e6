"""The Responses API on Azure OpenAI, against a fake resource on real sockets: both URL
shapes (``/openai/v1/responses``; classic ``/openai/responses?api-version=...``), api-key
and Entra ID auth, the deployment as the body's model, the choice by the deployment's
base model or by config, streams and errors."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ResponsesWire

pytestmark = pytest.mark.timeout(20)
WIRE = ResponsesWire()
KEY = "azure-responses-key-000000"
CLASSIC, V1 = "/openai/responses", "/openai/v1/responses"
PRO = {"pro": {"deployment": "pro-eu", "model": "gpt-5-pro"}}


class AccessToken(NamedTuple):
    token: str
    expires_on: int


class Credential:
    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(f"entra-responses-{self.calls}", int(time.time()) + 3600)


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def make_client(server: FakeServer, **options: Any) -> plugbay.Client:
    return plugbay.Client({"providers": {"azure": {"endpoint": server.url, **options}}}, env={})


def answer(text: str = "ok") -> Reply:
    return Reply.json(WIRE.response("gpt-5-pro", [WIRE.message(text)],
                                    {"input": 10, "output": 3, "cached": 4, "reasoning": 2}),
                      headers={"apim-request-id": "apim-1",
                               "x-ratelimit-remaining-requests": "41"})


def test_classic_url_key_and_deployment_body(server):
    route = server.add("POST", CLASSIC, answer("classic"))
    with make_client(server, api_key=KEY, deployments=PRO) as client:
        result = client.complete("azure/pro", "hi", max_tokens=9)
    sent = route.requests[0]
    # The GA default 2024-10-21 has no /responses: the documented preview is used.
    assert sent.query["api-version"] == ["2025-04-01-preview"]
    assert sent.headers["api-key"] == KEY and "authorization" not in sent.headers
    assert sent.json()["model"] == "pro-eu" and sent.json()["max_output_tokens"] == 9
    assert result.text == "classic" and result.usage is not None
    assert (result.usage.cached_input_tokens, result.usage.reasoning_tokens) == (4, 2)
    assert result.extra["rate_limits"]["remaining-requests"] == 41


@pytest.mark.parametrize(("options", "version"), [
    ({"api_version": "2025-03-01-preview"}, "2025-03-01-preview"),
    ({"api_version": "2024-10-21"}, "2025-04-01-preview"),
    ({"api_version": "2024-12-01-preview"}, "2025-04-01-preview"),  # predates /responses
    ({"responses_api_version": "2025-05-01-preview"}, "2025-05-01-preview"),
])
def test_classic_api_version_for_responses(server, options, version):
    route = server.add("POST", CLASSIC, answer())
    with make_client(server, api_key=KEY, deployments=PRO, **options) as client:
        client.complete("azure/pro", "hi")
    assert route.requests[0].query["api-version"] == [version]


def test_v1_url_with_entra_token(server):
    route = server.add("POST", V1, answer("v1"), answer("again"))
    credential = Credential()
    with make_client(server, api="v1", credential=credential, deployments=PRO) as client:
        assert client.complete("azure/pro", "hi").text == "v1"
        assert client.complete("azure/pro", "hi").text == "again"
    assert credential.calls == 1
    sent = route.requests[0]
    assert sent.headers["authorization"] == "Bearer entra-responses-1"
    assert "api-key" not in sent.headers and "api-version" not in sent.query
    assert sent.json()["model"] == "pro-eu"


def test_chosen_by_the_deployments_base_model(server):
    chat = server.add("POST", "/openai/deployments/chat-eu/chat/completions", Reply.json(
        {"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": "chat"},
            "finish_reason": "stop"}]}))
    responses = server.add("POST", CLASSIC, answer("responses"))
    deployments = {**PRO, "chat": {"deployment": "chat-eu", "model": "gpt-4o"},
                   "codex": "gpt-5.1-codex"}  # a plain string: the id is the base model
    with make_client(server, api_key=KEY, deployments=deployments) as client:
        assert client.complete("azure/chat", "hi").text == "chat"
        assert client.complete("azure/pro", "hi").text == "responses"
        assert client.complete("azure/pro-eu", "hi").text == "responses"  # by deployment name
        assert client.complete("azure/codex", "hi").text == "responses"
    assert len(chat.requests) == 1 and len(responses.requests) == 3
    assert responses.requests[2].json()["model"] == "gpt-5.1-codex"


@pytest.mark.parametrize(("setting", "path"), [
    ("responses", V1), ("chat", "/openai/v1/chat/completions"),
])
def test_config_forces_the_api(server, setting, path):
    server.add("POST", V1, answer("responses"))
    server.add("POST", "/openai/v1/chat/completions", Reply.json(
        {"id": "c", "object": "chat.completion", "model": "m", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": "chat"},
            "finish_reason": "stop"}]}))
    model = "gpt-4o" if setting == "responses" else "gpt-5-pro"
    with make_client(server, api="v1", api_key=KEY, wire_api=setting) as client:
        client.complete(f"azure/{model}", "hi")
    assert server.last.path == path


def test_api_is_the_url_style_only(server):
    with make_client(server, api_key=KEY, api="responses") as client, \
            pytest.raises(errors.ConfigError, match="wire_api"):
        client.complete("azure/gpt-5-pro", "hi")


async def test_stream_with_tool_call_then_error_event(server):
    call = WIRE.function_call("lookup", '{"city": "Oslo"}')
    events = [*WIRE.opening("gpt-5-pro"), *WIRE.call_events(call, ['{"city": ', '"Oslo"}']),
              WIRE.completed("gpt-5-pro", [call], {"input": 5, "output": 6})]
    broken = [*WIRE.opening("gpt-5-pro"), *WIRE.text_events(["par", "tial"])[:3],
              {"type": "error", "code": "server_error", "param": None,
               "message": f"upstream broke (api-key {KEY})"}]
    server.add("POST", V1, Reply.sse(WIRE.sse(events)), Reply.sse(WIRE.sse(broken)))
    async with make_client(server, api="v1", api_key=KEY) as client:
        async with client.astream("azure/gpt-5-pro", "weather?") as stream:
            result = await stream.get_completion()
        assert [(c.name, c.args) for c in result.tool_calls] == [("lookup", {"city": "Oslo"})]
        assert result.finish_reason == "tool_calls"
        with pytest.raises(errors.ProviderError, match="upstream broke") as caught:
            async with client.astream("azure/gpt-5-pro", "again") as stream:
                [e async for e in stream]
    assert KEY not in str(caught.value) and caught.value.provider == "azure"
