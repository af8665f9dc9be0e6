{%- set c = cookiecutter -%}
{%- set custom = c.flavour == 'custom' -%}
"""{{ c.display_name }}-specific behaviour, against the fake server.

Real sockets on 127.0.0.1, no mocks.
TO FILL IN: one test per quirk the plugin handles, each with the provider's exact
wire shapes (see the README checklist and docs/testing-plugins.md in plugbay).
"""

from __future__ import annotations

import datetime as dt
{%- if custom %}
import json
{%- endif %}
from collections.abc import Iterator

import pytest
{%- if custom %}
from {{ c.__module }} import CHAT_PATH, MODELS_PATH, codec
{%- endif %}

import plugbay
from plugbay import errors
from plugbay.pricing import PriceTable
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
{%- if custom %}
from plugbay.types import ImagePart, Message, Request
{%- else %}
from plugbay.testing.wire import OpenAIWire
{%- endif %}

PROVIDER = "{{ c.provider }}"
MODEL = "example-model"  # TO FILL IN: one of the provider's real model ids
# The path part of the default base URL.
PREFIX = "{{ c.__url_path }}"
KEY = "test-key-0123456789abcdef"
KEY_ENV = "{{ c.api_key_env }}"
DEFAULT_KEY_ENV = "{{ c.__env_prefix }}_API_KEY"
BASE_URL_ENV = "{{ c.__env_prefix }}_BASE_URL"
pytestmark = pytest.mark.timeout(20)
{%- if not custom %}


class Wire(OpenAIWire):
    prefix = PREFIX


WIRE = Wire()
{%- endif %}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def make_client(server: FakeServer, env: dict[str, str] | None = None) -> plugbay.Client:
    """A client configured only through the environment, as a user would."""
    return plugbay.Client(env={BASE_URL_ENV: server.url + PREFIX, **(env or {})})
{%- if custom %}


def test_auth_is_sent_on_every_request(server: FakeServer) -> None:
    server.add("GET", PREFIX + MODELS_PATH, Reply.json({}))
    with make_client(server, {% if c.auth != 'none' %}{KEY_ENV: KEY}{% endif %}) as client:
        assert [h.status for h in client.health(PROVIDER)] == ["ok"]
{%- if c.auth == 'bearer' %}
    assert server.last.headers.get("authorization") == f"Bearer {KEY}"
{%- elif c.auth == 'header' %}
    assert server.last.headers.get("{{ c.auth_header | lower }}") == KEY
{%- else %}
    assert "authorization" not in server.last.headers
{%- endif %}
{%- if c.auth != 'none' %}


def test_missing_key_names_the_variable(server: FakeServer) -> None:
    with make_client(server) as client:
        report = client.health(PROVIDER)
    assert report[0].status == "down" and DEFAULT_KEY_ENV in (report[0].detail or "")
{%- endif %}


def test_request_body_carries_the_prompt() -> None:
    request = Request(model=MODEL, messages=[Message.system("be brief"), Message.user("hi")],
                      max_tokens=5, temperature=0.2)
    body = codec.build_body(request, stream=False)
    sent = json.dumps(body)
    assert "be brief" in sent and "hi" in sent and MODEL in sent


def test_images_are_sent() -> None:
    image = ImagePart(url="https://example.com/cat.png")
    body = codec.build_body(Request(model=MODEL, messages=[Message.user("what?", image)]),
                            stream=False)
    assert "https://example.com/cat.png" in json.dumps(body)


# TO FILL IN: a usage object exactly as the API sends it, and the counts it means.
USAGE_SAMPLE = {"input_tokens": 12, "output_tokens": 5}


def test_usage_counts_billed_tokens() -> None:
    usage = codec.parse_usage(USAGE_SAMPLE)
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (12, 5)


def test_error_body_that_is_not_json() -> None:
    message, _, _ = codec.parse_error(b"<html><body>502 Bad Gateway</body></html>")
    assert "Bad Gateway" in message


def test_stream_without_terminal_event_is_an_error(server: FakeServer) -> None:
    server.add("POST", PREFIX + CHAT_PATH, Reply.sse([]))
    with make_client(server, {KEY_ENV: KEY}) as client, \
            pytest.raises(errors.StreamError):
        list(client.stream(f"{PROVIDER}/{MODEL}", "hi"))
{%- else %}


def test_auth_from_the_environment(server: FakeServer) -> None:
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 1, "output": 1})
    with make_client(server, {% if c.auth != 'none' %}{KEY_ENV: KEY}{% endif %}) as client:
        assert client.complete(f"{PROVIDER}/{MODEL}", "hi").text == "ok"
{%- if c.auth == 'bearer' %}
    assert server.last.headers.get("authorization") == f"Bearer {KEY}"
{%- elif c.auth == 'header' %}
    assert server.last.headers.get("{{ c.auth_header | lower }}") == KEY
    assert "authorization" not in server.last.headers
{%- else %}
    assert "authorization" not in server.last.headers
{%- endif %}
{%- if c.auth != 'none' %}


def test_missing_key_names_the_variable(server: FakeServer) -> None:
    with make_client(server) as client, pytest.raises(errors.MissingAPIKeyError) as caught:
        client.complete(f"{PROVIDER}/{MODEL}", "hi")
    assert DEFAULT_KEY_ENV in str(caught.value)
{%- endif %}


def test_rate_limit_carries_retry_after(server: FakeServer) -> None:
    WIRE.script_error(server, kind="rate_limit", model=MODEL)
    with make_client(server, {KEY_ENV: KEY}) as client, \
            pytest.raises(errors.RateLimitError) as caught:
        client.complete(f"{PROVIDER}/{MODEL}", "hi")
    assert caught.value.retry_after == 2 and caught.value.retryable


def test_stream_without_terminal_event_is_an_error(server: FakeServer) -> None:
    server.add("POST", WIRE.route(), Reply.sse([WIRE.chunk(MODEL, {"content": "Hel"})]))
    with make_client(server, {KEY_ENV: KEY}) as client, \
            pytest.raises(errors.StreamError) as caught:
        list(client.stream(f"{PROVIDER}/{MODEL}", "hi"))
    assert caught.value.partial == "Hel"
{%- endif %}


def test_unknown_model_has_no_price() -> None:
    with plugbay.Client(env={}) as client:
        assert client.price(f"{PROVIDER}/no-such-model-xyz") is None


def test_price_table_is_dated_and_sourced() -> None:
    table = PriceTable.load("{{ c.__module }}")
    assert isinstance(table.as_of, dt.date) and table.as_of <= dt.date.today()
    if "TO FILL IN" in table.source:
        pytest.skip("prices.toml is still TO FILL IN: add the provider's prices and source")
    assert table.source.startswith("https://"), "source must be the pricing page URL"
    for model, row in table.models.items():
        assert row.get("input") is not None and row.get("output") is not None, model
