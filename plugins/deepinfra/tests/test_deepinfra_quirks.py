"""DeepInfra-specific behaviour against a real FakeServer socket."""

from __future__ import annotations

import datetime as dt

import pytest

import plugbay
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

from .test_deepinfra_conformance import DeepInfraWire

WIRE = DeepInfraWire()
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def make(server, **options):
    return plugbay.Client({"providers": {"deepinfra": {
        "base_url": server.url + "/v1/openai", **options}}}, env={})


def test_default_base_url_and_token_variable():
    from plugbay_deepinfra import plugin

    assert plugin.default_base_url == "https://api.deepinfra.com/v1/openai"
    with plugbay.Client({}, env={"DEEPINFRA_TOKEN": "tok-env"}) as c:
        assert c.context("deepinfra").api_key(*plugin.api_key_env) == "tok-env"


def test_listing_is_public_and_prices_from_metadata(server):
    entries = [WIRE.model_entry("vendor/new", {"input_tokens": 0.1, "output_tokens": 0.4,
                                               "cache_read_tokens": 0.02}, tags=["vision"]),
               {"id": "vendor/no-meta", "object": "model", "owned_by": "deepinfra",
                "metadata": None},
               WIRE.model_entry("openai/gpt-oss-120b", {"input_tokens": 0.04,
                                                        "output_tokens": 0.2})]
    server.add("GET", "/v1/openai/models", Reply.json({"object": "list", "data": entries}))
    with make(server) as c:  # no key
        models = {m.id: m for m in c.models("deepinfra")}
        assert "authorization" not in server.last.headers
        new = c.price("deepinfra/vendor/new")
        assert (new.input, new.output, new.cached_input) == (0.1, 0.4, 0.02)
        assert new.as_of == dt.date.today() and new.source == server.url + "/v1/openai/models"
        assert models["vendor/new"].supports_vision is True
        assert (models["vendor/new"].context_window, models["vendor/new"].max_output_tokens) \
            == (131072, 16384)
        assert c.price("deepinfra/vendor/no-meta") is None
        assert c.price("deepinfra/openai/gpt-oss-120b").input == 0.04  # live beats table
        assert "deepseek-ai/DeepSeek-V3.2" in models


def test_completion_sends_model_as_given(server):
    WIRE.script_completion(server, model="meta-llama/Meta-Llama-3.1-405B-Instruct", text="ok",
                           usage={"input": 2, "output": 1})
    with make(server, api_key="di-quirkTESTKEY") as c:
        result = c.complete("deepinfra/meta-llama/Meta-Llama-3.1-405B-Instruct", "hi",
                            max_tokens=5)
    body = server.last.json()
    assert body["model"] == "meta-llama/Meta-Llama-3.1-405B-Instruct"
    assert body["max_tokens"] == 5 and server.last.path == "/v1/openai/chat/completions"
    assert result.price.input == 0.80
