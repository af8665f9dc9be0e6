"""LiteLLM-proxy-specific behaviour against a real FakeServer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from plugbay_litellm_proxy import plugin

import plugbay
from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(20)
MASTER = "sk-litellm-master-1234abcd"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def client_for(server: FakeServer, env: dict[str, str] | None = None,
               **options: Any) -> plugbay.Client:
    options.setdefault("base_url", server.url)
    return plugbay.Client({"providers": {"litellm-proxy": options}}, env=env or {})


def ok() -> Reply:
    return Reply.json({"id": "chatcmpl-1", "object": "chat.completion", "model": "claude",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "hi"}}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                 "total_tokens": 2}})


def test_default_base_is_the_documented_proxy_address() -> None:
    ctx = ProviderContext("litellm-proxy", "litellm-proxy", env={})
    assert plugin.url(ctx, "/chat/completions") == "http://0.0.0.0:4000/chat/completions"


async def test_master_or_virtual_key_as_bearer(server: FakeServer) -> None:
    server.add("POST", "/chat/completions", ok())
    async with client_for(server, api_key=MASTER) as client:
        await client.acomplete("litellm-proxy/claude", "hi")
    assert server.last.headers["authorization"] == f"Bearer {MASTER}"
    async with client_for(server, env={"LITELLM_API_KEY": "sk-virtual-5678efgh"}) as client:
        await client.acomplete("litellm-proxy/claude", "hi")
    assert server.last.headers["authorization"] == "Bearer sk-virtual-5678efgh"
    async with client_for(server) as client:  # a proxy without a master key
        await client.acomplete("litellm-proxy/claude", "hi")
    assert "authorization" not in server.last.headers


async def test_v1_base_url_also_works(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", ok())
    async with client_for(server, base_url=server.url + "/v1/") as client:
        result = await client.acomplete("litellm-proxy/claude", "hi")
    assert result.text == "hi" and server.last.path == "/v1/chat/completions"


@pytest.mark.parametrize(("status", "error", "cls", "retryable"), [
    (400, {"message": "Budget has been exceeded! Current cost: 10.2, Max budget: 10.0",
           "type": "budget_exceeded", "param": None, "code": "400"},
     errors.QuotaExceededError, False),
    (400, {"message": "litellm.ContextWindowExceededError: litellm.BadRequestError: "
                      "AnthropicException - prompt is too long", "type": None,
           "param": None, "code": "400"}, errors.ContextLengthError, False),
    (400, {"message": "litellm.ContentPolicyViolationError: AzureException - The response "
                      "was filtered", "type": None, "param": None, "code": "400"},
     errors.ContentFilterError, False),
    (500, {"message": "litellm.InternalServerError: AnthropicException - Overloaded. Handle "
                      "with `litellm.InternalServerError`.", "type": "internal_server_error",
           "param": None, "code": "500"}, errors.OverloadedError, True),
    (401, {"message": "Authentication Error, Invalid proxy server token passed.",
           "type": "auth_error", "param": "None", "code": "401"},
     errors.AuthenticationError, False),
])
async def test_litellm_error_dialect(server: FakeServer, status: int, error: dict[str, Any],
                                     cls: type[errors.APIError], retryable: bool) -> None:
    server.add("POST", "/chat/completions", Reply.json({"error": error}, status=status))
    async with client_for(server, api_key=MASTER) as client:
        with pytest.raises(errors.APIError) as caught:
            await client.acomplete("litellm-proxy/claude", "hi")
    assert type(caught.value) is cls
    assert caught.value.retryable is retryable
    assert caught.value.status == status


async def test_price_only_when_configured(server: FakeServer) -> None:
    async with client_for(server, api_key=MASTER) as client:
        assert client.price("litellm-proxy/gpt-4o-mini") is None
    prices = {"gpt-4o-mini": {"input": 0.15, "output": 0.6, "as_of": "2026-11-01",
                              "source": "https://platform.openai.com/docs/pricing"}}
    async with client_for(server, api_key=MASTER, prices=prices) as client:
        price = client.price("litellm-proxy/gpt-4o-mini")
        assert price is not None and price.output == 0.6
        assert client.price("litellm-proxy/claude") is None
