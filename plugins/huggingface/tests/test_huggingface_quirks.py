"""Hugging Face router behaviour against a real FakeServer socket."""

from __future__ import annotations

import datetime as dt

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

from .test_huggingface_conformance import HuggingFaceWire

WIRE = HuggingFaceWire()
ROUTE = "/v1/chat/completions"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def make(server, env=None, **options):
    config = {"providers": {"huggingface": {"base_url": server.url + "/v1",
                                            "hub_url": server.url, **options}},
              "routing": {"retries": 0}}  # one request per scripted reply
    return plugbay.Client(config, env=env or {})


@pytest.fixture
def client(server):
    with make(server, api_key="hf_quirkTESTKEY0000") as c:
        yield c


def test_default_router_url():
    from plugbay_huggingface import plugin

    assert plugin.default_base_url == "https://router.huggingface.co/v1"


@pytest.mark.parametrize("model", ["meta-llama/Llama-3.1-8B-Instruct",
                                   "meta-llama/Llama-3.1-8B-Instruct:novita",
                                   "openai/gpt-oss-120b:fastest",
                                   "openai/gpt-oss-120b:cheapest"])
def test_model_suffixes_pass_through_untouched(server, client, model):
    WIRE.script_completion(server, model=model, text="ok", usage={"input": 1, "output": 1})
    client.complete(f"huggingface/{model}", "hi")
    assert server.last.json()["model"] == model and server.last.path == ROUTE


@pytest.mark.parametrize(("env", "expected"), [
    ({"HUGGINGFACE_API_KEY": "hf_fromPrimaryVAR01"}, "hf_fromPrimaryVAR01"),
    ({"HF_TOKEN": "hf_fromHFtokenVAR01"}, "hf_fromHFtokenVAR01"),
    ({"HUGGINGFACE_API_KEY": "hf_primaryWINS0001", "HF_TOKEN": "hf_other00000001"},
     "hf_primaryWINS0001")])
def test_key_from_environment(server, env, expected):
    WIRE.script_completion(server, model="m/x", text="ok", usage={"input": 1, "output": 1})
    with make(server, env=env) as c:
        c.complete("huggingface/m/x", "hi")
    assert server.last.headers["authorization"] == f"Bearer {expected}"


def test_missing_key_names_both_variables(server):
    with make(server) as c, pytest.raises(errors.MissingAPIKeyError) as caught:
        c.complete("huggingface/m/x", "hi")
    assert "HUGGINGFACE_API_KEY" in str(caught.value) and "HF_TOKEN" in str(caught.value)


def test_402_credits_is_quota(server, client):
    server.add("POST", ROUTE, Reply.json({"error": "You have exceeded your monthly included "
                                                   "credits for Inference Providers."},
                                         status=402))
    with pytest.raises(errors.QuotaExceededError) as caught:
        client.complete("huggingface/m/x", "hi")
    assert caught.value.retryable is False and "credits" in caught.value.message


def test_429_retry_after(server, client):
    server.add("POST", ROUTE, Reply.json(WIRE.error_body("rate_limit", 429), status=429,
                                         headers={"retry-after": "12"}))
    with pytest.raises(errors.RateLimitError) as caught:
        client.complete("huggingface/m/x", "hi")
    assert caught.value.retry_after == 12.0


def test_listing_prices_per_provider(server, client):
    live_and_staging = [
        {"provider": "together", "status": "live", "context_length": 262144,
         "pricing": {"input": 0.6, "output": 3.6}, "supports_tools": True},
        {"provider": "novita", "status": "live", "context_length": 131072,
         "pricing": {"input": 0.55, "output": 2.2}, "supports_tools": False},
        {"provider": "nebius", "status": "staging", "pricing": {"input": 0.01, "output": 0.01}},
        {"provider": "hf-inference", "status": "live"}]
    entries = [WIRE.model_entry("org/big", live_and_staging), WIRE.model_entry("org/small")]
    server.add("GET", "/v1/models", Reply.json({"object": "list", "data": entries}))
    models = {m.id: m for m in client.models("huggingface")}
    together = client.price("huggingface/org/big:together")
    assert (together.input, together.output) == (0.6, 3.6)
    assert together.as_of == dt.date.today() and together.source == server.url + "/v1/models"
    assert client.price("huggingface/org/big:cheapest").output == 2.2
    assert client.price("huggingface/org/big:nebius") is None  # staging is not routable
    assert client.price("huggingface/org/big:hf-inference") is None  # no pricing given
    assert client.price("huggingface/org/big") is None  # the router picks: unknown
    assert client.price("huggingface/org/big:fastest") is None
    big = models["org/big"]
    assert big.extra["providers"] == ["together", "novita", "hf-inference"]
    assert big.context_window == 262144 and big.supports_tools is True
    assert "zai-org/GLM-5:novita" in models  # the static table's rows are listed too


def test_table_prices_every_row(server):
    with make(server) as c:
        models = c.models("huggingface")
        assert models and not server.requests  # no key: table only, no network
        for info in models:
            price = c.price(f"huggingface/{info.id}")
            assert price is not None and price.input > 0 and price.as_of


def test_health_uses_hub_whoami(server, client):
    server.add("GET", "/api/whoami-v2", Reply.json({"error": "Invalid credentials"},
                                                   status=401))
    (health,) = client.health("huggingface")
    assert health.status == "down" and server.last.path == "/api/whoami-v2"
    assert server.last.headers["authorization"] == "Bearer hf_quirkTESTKEY0000"
    assert "hf_quirkTESTKEY0000" not in (health.detail or "")


def test_token_from_hf_token_is_redacted_from_errors(server):
    token = "hf_secretFROMenvVAR123456"
    server.add("POST", ROUTE, Reply.json({"error": f"Invalid token {token}"}, status=401))
    with make(server, env={"HF_TOKEN": token}) as c, \
            pytest.raises(errors.AuthenticationError) as caught:
        c.complete("huggingface/m/x", "hi")
    shown = " ".join([str(caught.value), repr(caught.value.body)])
    assert token not in shown
