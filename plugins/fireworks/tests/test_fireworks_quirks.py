"""Fireworks-specific behaviour against a real FakeServer socket."""

from __future__ import annotations

import pytest

from plugbay import errors
from plugbay.testing.replies import Reply

from .test_fireworks_conformance import FireworksWire

WIRE = FireworksWire()
ROUTE = "/inference/v1/chat/completions"
FULL = "accounts/fireworks/models/gpt-oss-120b"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server(fake_server):
    return fake_server


@pytest.fixture
def client(server):
    with WIRE.client(server, "fireworks", api_key="fw_quirkTESTKEY000") as c:
        yield c


def test_default_base_url():
    from plugbay_fireworks import plugin

    assert plugin.default_base_url == "https://api.fireworks.ai/inference/v1"


def test_short_name_expands_to_account_path(server, client):
    WIRE.script_completion(server, model=FULL, text="ok", usage={"input": 1, "output": 1})
    result = client.complete("fireworks/gpt-oss-120b", "hi")
    assert server.last.json()["model"] == FULL
    assert result.price is not None and result.price.input == 0.15  # priced by the full id
    assert client.price("fireworks/gpt-oss-120b") == client.price(f"fireworks/{FULL}")


def test_full_and_custom_account_ids_pass_through(server, client):
    custom = "accounts/my-team/models/my-finetune"
    WIRE.script_completion(server, model=custom, text="ok", usage={"input": 1, "output": 1})
    client.complete(f"fireworks/{custom}", "hi")
    assert server.last.json()["model"] == custom
    assert client.price(f"fireworks/{custom}") is None  # unknown, never 0


def test_stream_usage_on_finishing_chunk(server, client):
    WIRE.script_stream(server, model=FULL, pieces=["x", "y"], usage={"input": 4, "output": 2,
                                                                      "cached": 3})
    with client.stream("fireworks/gpt-oss-120b", "hi") as s:
        done = s.get_completion()
    assert done.text == "xy" and done.usage.cached_input_tokens == 3


def test_not_found_message_maps_to_model_not_found(server, client):
    server.add("POST", ROUTE, Reply.json(WIRE.error_body("not_found", 404), status=404))
    with pytest.raises(errors.ModelNotFoundError):
        client.complete("fireworks/no-such-model", "hi")
    assert server.last.json()["model"] == "accounts/fireworks/models/no-such-model"


def test_listing_flags(server, client):
    WIRE.script_models(server, [FULL, "accounts/fireworks/models/new-vlm"])
    models = {m.id: m for m in client.models("fireworks")}
    new = models["accounts/fireworks/models/new-vlm"]
    assert new.supports_tools is True and new.supports_vision is False
    assert new.context_window == 131072
    assert client.price("fireworks/accounts/fireworks/models/new-vlm") is None
    for info in models.values():  # every table row is listed and priced
        if info.id != new.id:
            price = client.price(f"fireworks/{info.id}")
            assert price is not None and price.input > 0 and price.as_of
