"""Novita-specific behaviour against a real FakeServer socket."""

from __future__ import annotations

import datetime as dt

import pytest

from plugbay.testing.replies import Reply

from .test_novita_conformance import NovitaWire

WIRE = NovitaWire()
MODEL = "deepseek/deepseek-v3-0324"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server(fake_server):
    return fake_server


@pytest.fixture
def client(server):
    with WIRE.client(server, "novita", api_key="sk_novitaQUIRKKEY") as c:
        yield c


def test_default_base_url():
    from plugbay_novita import plugin

    assert plugin.default_base_url == "https://api.novita.ai/openai/v1"


def test_listing_prices_are_scaled_from_units(server, client):
    entries = [WIRE.model_entry("vendor/new", 5700, 23000),
               WIRE.model_entry("vendor/unpriced", -1, -1),
               {**WIRE.model_entry("vendor/vlm", 500, 500), "input_modalities": ["text",
                                                                                  "image"]},
               WIRE.model_entry(MODEL, 2800, 11400)]
    server.add("GET", "/openai/v1/models", Reply.json({"data": entries}))
    models = {m.id: m for m in client.models("novita")}
    new = client.price("novita/vendor/new")
    assert (new.input, new.output) == (0.57, 2.3)
    assert new.as_of == dt.date.today() and new.source == server.url + "/openai/v1/models"
    assert client.price("novita/vendor/unpriced") is None
    assert client.price(f"novita/{MODEL}").output == 1.14  # live beats the table
    assert models["vendor/new"].display_name == "Fake vendor/new"
    assert (models["vendor/new"].context_window, models["vendor/new"].max_output_tokens) == (
        163840, 65536)
    assert models["vendor/vlm"].supports_vision is True
    assert "deepseek/deepseek-v3.1-terminus" in models


def test_paths_and_model_ids(server, client):
    WIRE.script_stream(server, model=MODEL, pieces=["o", "k"], usage={"input": 3, "output": 2})
    with client.stream(f"novita/{MODEL}", "hi", max_tokens=9) as s:
        done = s.get_completion()
    assert done.text == "ok" and done.price.cached_input == 0.135
    assert server.last.path == "/openai/v1/chat/completions"
    body = server.last.json()
    assert body["model"] == MODEL and body["max_tokens"] == 9
    assert body["stream_options"] == {"include_usage": True}
