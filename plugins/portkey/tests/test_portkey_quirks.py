"""Portkey-specific behaviour against a real FakeServer."""

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
PK = "pk-portkey-test-9a8b7c6d5e"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def client_for(server: FakeServer, env: dict[str, str] | None = None,
               **options: Any) -> plugbay.Client:
    options.setdefault("base_url", server.url + "/v1")
    return plugbay.Client({"providers": {"portkey": options}}, env=env or {})


def ok() -> Reply:
    return Reply.json({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
                       "provider": "openai",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "hi"}}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                 "total_tokens": 2}})


async def test_virtual_key_mode(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", ok())
    async with client_for(server, api_key=PK, virtual_key="openai-prod-vk") as client:
        await client.acomplete("portkey/gpt-4o", "hi")
    sent = server.last.headers
    assert sent["x-portkey-api-key"] == PK
    assert sent["x-portkey-virtual-key"] == "openai-prod-vk"
    assert "authorization" not in sent  # the virtual key carries the upstream credentials


async def test_provider_mode_with_upstream_key(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", ok())
    async with client_for(server, api_key=PK, provider="openai",
                          provider_api_key="sk-upstream-openai-0000") as client:
        await client.acomplete("portkey/gpt-4o", "hi")
    sent = server.last.headers
    assert sent["x-portkey-provider"] == "openai"
    assert sent["authorization"] == "Bearer sk-upstream-openai-0000"


async def test_config_id_inline_config_metadata_and_env(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", ok())
    env = {"PORTKEY_API_KEY": PK, "PORTKEY_CONFIG": "pc-fallback-1a2b3c"}
    async with client_for(server, env=env) as client:
        await client.acomplete("portkey/gpt-4o", "hi")
    assert server.last.headers["x-portkey-api-key"] == PK
    assert server.last.headers["x-portkey-config"] == "pc-fallback-1a2b3c"
    config = {"strategy": {"mode": "fallback"},
              "targets": [{"virtual_key": "openai-vk"}, {"virtual_key": "anthropic-vk"}]}
    async with client_for(server, api_key=PK, config=config, trace_id="run-42",
                          metadata={"_user": "ada", "env": "test"}) as client:
        await client.acomplete("portkey/gpt-4o", "hi")
    sent = server.last.headers
    assert json.loads(sent["x-portkey-config"]) == config
    assert json.loads(sent["x-portkey-metadata"]) == {"_user": "ada", "env": "test"}
    assert sent["x-portkey-trace-id"] == "run-42"


async def test_missing_portkey_key_names_the_variable(server: FakeServer) -> None:
    async with client_for(server, virtual_key="vk") as client:
        with pytest.raises(errors.MissingAPIKeyError, match="PORTKEY_API_KEY"):
            await client.acomplete("portkey/gpt-4o", "hi")


async def test_gateway_refusal_is_readable(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"status": "failure", "message": "Invalid config passed",
         "errors": ["path: strategy.mode, message: Invalid enum value"]},
        status=400, headers={"x-portkey-trace-id": "trace-77"}))
    async with client_for(server, api_key=PK, config={"strategy": {"mode": "nope"}}) as client:
        with pytest.raises(errors.InvalidRequestError) as caught:
            await client.acomplete("portkey/gpt-4o", "hi")
    exc = caught.value
    assert exc.message == "Invalid config passed: path: strategy.mode, message: Invalid enum value"
    assert exc.request_id == "trace-77"
    assert exc.code == "portkey_gateway"


async def test_upstream_error_passes_through_and_secrets_redacted(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"error": {"message": "openai error: Incorrect API key provided: sk-upstream-openai-0000",
                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"},
         "provider": "openai"}, status=401))
    async with client_for(server, api_key=PK, provider="openai",
                          provider_api_key="sk-upstream-openai-0000") as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.acomplete("portkey/gpt-4o", "hi")
    shown = f"{caught.value} {caught.value.body!r}"
    assert "sk-upstream-openai-0000" not in shown and PK not in shown


async def test_price_only_when_configured(server: FakeServer) -> None:
    async with client_for(server, api_key=PK) as client:
        assert client.price("portkey/gpt-4o") is None
    async with client_for(server, api_key=PK,
                          prices={"*": {"input": 2.5, "output": 10.0}}) as client:
        price = client.price("portkey/gpt-4o")
        assert price is not None and price.input == 2.5 and "portkey" in price.source
