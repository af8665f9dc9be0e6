"""Together-specific behaviour against a real FakeServer socket."""

from __future__ import annotations

import datetime as dt

import pytest

import plugbay
from plugbay.testing.replies import Reply

from .test_together_conformance import TogetherWire

WIRE = TogetherWire()
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server(fake_server):
    return fake_server


@pytest.fixture
def client(server):
    with WIRE.client(server, "together", api_key="tgp_v1_quirkTESTKEY") as c:
        yield c


def test_default_base_url_and_key_variable():
    from plugbay_together import plugin

    assert plugin.default_base_url == "https://api.together.xyz/v1"
    with plugbay.Client({}, env={"TOGETHER_API_KEY": "k-env"}) as c:
        assert c.context("together").api_key() == "k-env"


def test_stream_eos_and_usage_on_finishing_chunk(server, client):
    WIRE.script_stream(server, model=MODEL, pieces=["a", "b"], usage={"input": 6, "output": 2})
    with client.stream(f"together/{MODEL}", "hi") as s:
        done = s.get_completion()
    assert done.text == "ab" and done.finish_reason == "stop" and done.raw_finish_reason == "eos"
    assert (done.usage.input_tokens, done.usage.output_tokens) == (6, 2)
    assert server.last.json()["model"] == MODEL  # ids are sent exactly as given


def test_bare_array_listing_with_per_million_pricing(server, client):
    entries = [WIRE.model_entry("vendor/new-chat", input=0.27, output=0.85),
               WIRE.model_entry("vendor/dedicated-only", input=0, output=0, hourly=2.5),
               WIRE.model_entry("vendor/Some-Model-Free", input=0, output=0),
               {**WIRE.model_entry("vendor/embedder", input=0.008, output=0),
                "type": "embedding"},
               WIRE.model_entry(MODEL, input=0.9, output=0.9)]
    server.add("GET", "/v1/models", Reply.json(entries))
    models = {m.id: m for m in client.models("together")}
    new = client.price("together/vendor/new-chat")
    assert (new.input, new.output) == (0.27, 0.85) and new.as_of == dt.date.today()
    assert new.source == server.url + "/v1/models"
    assert client.price("together/vendor/dedicated-only") is None  # 0/0: not token-priced
    assert client.price("together/vendor/Some-Model-Free").input == 0.0
    assert client.price("together/vendor/embedder").input == 0.008
    assert client.price(f"together/{MODEL}").input == 0.9  # live beats the table
    assert models["vendor/new-chat"].display_name == "Fake vendor/new-chat"
    assert models["vendor/new-chat"].context_window == 131072
    assert models["vendor/embedder"].extra["type"] == "embedding"
    assert "openai/gpt-oss-120b" in models  # table rows are merged in


def test_table_prices_every_row_without_a_listing(server):
    with plugbay.Client({"providers": {"together": {"base_url": server.url + "/v1"}}},
                        env={}) as c:
        models = c.models("together")
        assert models and not server.requests
        for info in models:
            price = c.price(f"together/{info.id}")
            # an embedding model has no output tokens: its output price is a true 0
            embeds = "bert" in info.id or "bge-" in info.id
            assert price is not None and price.input > 0 and price.as_of
            assert price.output > 0 or (embeds and price.output == 0)
