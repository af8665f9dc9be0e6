"""Providers' declared parameter ranges (``param_limits``) are checked before a request
is sent: a value outside gets one clear ``InvalidRequestError`` and the upstream (a real
server on 127.0.0.1) sees nothing; a value at the edge goes out."""

from __future__ import annotations

import re
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.params import ParamLimits, limits_of
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(30)

# provider, model, options for the fake server, the declared temperature ceiling
CASES = [
    ("openai", "gpt-4o-mini", lambda url: {"api_key": "sk-test-0123456789", "base_url": url},
     2.0),
    ("azure", "gpt-4o-mini", lambda url: {"api_key": "az-test-0123456789", "endpoint": url,
                                          "deployments": {"gpt-4o-mini": "dep"}}, 2.0),
    ("anthropic", "claude-haiku-4-5",
     lambda url: {"api_key": "sk-ant-test-0123456789", "base_url": url}, 1.0),
    ("gemini", "gemini-2.5-flash", lambda url: {"api_key": "AIza-test-0123456789",
                                                "base_url": url}, 2.0),
]
IDS = [c[0] for c in CASES]


def client(provider: str, options: dict[str, Any]) -> plugbay.Client:
    return plugbay.Client({"providers": {provider: options}, "routing": {"retries": 0},
                           "ledger": {"path": "off"}}, env={})


@pytest.mark.parametrize(("provider", "model", "options", "ceiling"), CASES, ids=IDS)
async def test_over_the_ceiling_is_refused_before_sending(
        fake_server: FakeServer, provider: str, model: str, options: Any,
        ceiling: float) -> None:
    pytest.importorskip(f"plugbay_{provider}")
    fake_server.add("POST", re.compile(".*"), Reply.json({"error": "unexpected"}, status=500))
    over = ceiling + 0.5
    async with client(provider, options(fake_server.url)) as c:
        with pytest.raises(errors.InvalidRequestError) as info:
            await c.acomplete(f"{provider}/{model}", "hi", temperature=over)
        with pytest.raises(errors.InvalidRequestError):
            async with c.astream(f"{provider}/{model}", "hi", temperature=over) as s:
                async for _ in s:
                    pass
        with pytest.raises(errors.InvalidRequestError, match=r"top_p 1\.5"):
            await c.acomplete(f"{provider}/{model}", "hi", top_p=1.5)
    message = str(info.value)
    assert f"temperature {over:g}" in message and provider in message
    assert f"from 0 to {ceiling:g}" in message and "\n" not in message
    assert info.value.provider == provider
    assert fake_server.requests == []  # nothing left the process


@pytest.mark.parametrize(("provider", "model", "options", "ceiling"), CASES, ids=IDS)
async def test_at_the_ceiling_the_request_goes_out(
        fake_server: FakeServer, provider: str, model: str, options: Any,
        ceiling: float) -> None:
    pytest.importorskip(f"plugbay_{provider}")
    fake_server.add("POST", re.compile(".*"), Reply.json({"error": "down"}, status=500))
    async with client(provider, options(fake_server.url)) as c:
        with pytest.raises(errors.APIError) as info:
            await c.acomplete(f"{provider}/{model}", "hi", temperature=ceiling)
    assert not isinstance(info.value, errors.InvalidRequestError)
    assert len(fake_server.requests) == 1


def test_a_declaration_of_the_wrong_type_is_ignored() -> None:
    class Plugin:
        param_limits = {"temperature": (0, 1)}

    assert limits_of(Plugin()) is None
    assert limits_of(type("P", (), {"param_limits": ParamLimits(temperature=(0, 1))})) \
        == ParamLimits(temperature=(0, 1))
