"""OpenRouter-specific behaviour against a real FakeServer socket."""

from __future__ import annotations

import datetime as dt

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

from .test_openrouter_conformance import PROCESSING, OpenRouterWire

WIRE = OpenRouterWire()
ROUTE = "/api/v1/chat/completions"
MODEL = "openai/gpt-4o-mini"
KEY = "sk-or-v1-quirkTESTKEY000000"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def make(server, **options):
    config = {"providers": {"openrouter": {"base_url": server.url + "/api/v1", **options}}}
    return plugbay.Client(config, env={})


@pytest.fixture
def client(server):
    with make(server, api_key=KEY) as c:
        yield c


def test_attribution_headers_from_options(server):
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 1, "output": 1})
    with make(server, api_key=KEY, site_url="https://app.example", site_name="My App") as c:
        c.complete(f"openrouter/{MODEL}", "hi")
    assert server.last.headers["http-referer"] == "https://app.example"
    assert server.last.headers["x-title"] == "My App"


def test_no_attribution_headers_by_default(server, client):
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 1, "output": 1})
    client.complete(f"openrouter/{MODEL}", "hi")
    assert "http-referer" not in server.last.headers and "x-title" not in server.last.headers


def test_routing_from_request_extra_reaches_body(server, client):
    WIRE.script_completion(server, model="anthropic/claude-haiku-4.5", text="ok",
                           usage={"input": 1, "output": 1})
    prefs = {"order": ["anthropic", "amazon-bedrock"], "allow_fallbacks": False, "sort": "price"}
    result = client.complete(f"openrouter/{MODEL}", "hi",
                             models=[MODEL, "anthropic/claude-haiku-4.5"], provider=prefs)
    body = server.last.json()
    assert body["models"] == [MODEL, "anthropic/claude-haiku-4.5"]
    assert body["provider"] == prefs and body["model"] == MODEL
    assert result.model == "anthropic/claude-haiku-4.5"  # the fallback that served


def test_routing_defaults_from_options_and_request_wins(server):
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 1, "output": 1})
    with make(server, api_key=KEY, models=["a/x", "b/y"],
              provider={"data_collection": "deny"}) as c:
        c.complete(f"openrouter/{MODEL}", "hi")
        body = server.last.json()
        assert body["models"] == ["a/x", "b/y"] and body["provider"] == {
            "data_collection": "deny"}
        c.complete(f"openrouter/{MODEL}", "hi", provider={"only": ["openai"]})
        body = server.last.json()
        assert body["provider"] == {"only": ["openai"]} and body["models"] == ["a/x", "b/y"]


def test_cost_and_upstream_on_completion(server, client):
    WIRE.script_completion(server, model=MODEL, text="ok", usage={"input": 10, "output": 2})
    result = client.complete(f"openrouter/{MODEL}", "hi")
    assert result.extra["cost"] == WIRE.cost and result.extra["is_byok"] is False
    assert result.extra["upstream_provider"] == "OpenAI"
    assert result.extra["native_finish_reason"] == "stop"


def test_stream_tolerates_processing_comments(server, client):
    events = WIRE.stream_events(MODEL, [{"content": "He"}, {"content": "llo"}], "stop",
                                {"input": 7, "output": 2})
    events.insert(3, PROCESSING)  # keep-alives may also come mid-stream
    server.add("POST", ROUTE, Reply.sse(events))
    with client.stream(f"openrouter/{MODEL}", "hi") as s:
        texts = [e.text for e in s if e.type == "text"]
    assert texts == ["He", "llo"]
    done = s.completion
    assert done.usage.input_tokens == 7 and done.finish_reason == "stop"
    assert done.cost is not None  # priced from the table for a stream too
    assert done.extra["cost"] == WIRE.cost  # OpenRouter's own billed cost survives streaming


@pytest.mark.parametrize(("code", "cls"), [(502, errors.ProviderError),
                                           (429, errors.RateLimitError)])
def test_mid_stream_error_chunk_raises_typed(server, client, code, cls):
    error_chunk = WIRE.chunk(MODEL, {"content": ""}, "error")
    error_chunk["error"] = {"code": code, "message": "Upstream provider failed mid-stream"}
    server.add("POST", ROUTE, Reply.sse([PROCESSING, WIRE.chunk(MODEL, {"content": "par"}),
                                         error_chunk, WIRE.done]))
    seen = []
    with pytest.raises(cls) as caught, client.stream(f"openrouter/{MODEL}", "hi") as s:
        seen.extend(e.type for e in s)
    assert "finish" not in seen and caught.value.status == code
    assert "mid-stream" in caught.value.message


def test_402_is_quota_and_not_retried(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {
        "code": 402, "message": "This request requires more credits, or fewer max_tokens."}},
        status=402))
    with pytest.raises(errors.QuotaExceededError) as caught:
        client.complete(f"openrouter/{MODEL}", "hi")
    assert caught.value.retryable is False


def test_403_moderation_is_content_filter(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {
        "code": 403, "message": "openai/gpt-4o-mini requires moderation on OpenAI. "
                                "Your input was flagged for \"harassment\".",
        "metadata": {"reasons": ["harassment"], "flagged_input": "...",
                     "provider_name": "OpenAI", "model_slug": MODEL}}}, status=403))
    with pytest.raises(errors.ContentFilterError) as caught:
        client.complete(f"openrouter/{MODEL}", "hi")
    assert caught.value.body["error"]["metadata"]["reasons"] == ["harassment"]


def test_error_in_200_body_raises(server, client):
    server.add("POST", ROUTE, Reply.json({"error": {"code": 502, "message": "Bad gateway"}}))
    with pytest.raises(errors.ProviderError):
        client.complete(f"openrouter/{MODEL}", "hi")


def test_listing_is_public_and_prices_per_million(server):
    entries = [WIRE.model_entry("vendor/new-model", "0.0000025", "0.00001"),
               WIRE.model_entry("vendor/free-model:free", "0", "0"),
               WIRE.model_entry("openrouter/auto", "-1", "-1"),
               WIRE.model_entry(MODEL, "0.0000002", "0.0000007")]
    server.add("GET", "/api/v1/models", Reply.json({"data": entries}))
    with make(server) as c:  # no key at all: the catalogue is public
        models = {m.id: m for m in c.models("openrouter")}
        assert "authorization" not in server.last.headers
        new = c.price("openrouter/vendor/new-model")
        assert (new.input, new.output, new.cached_input) == (2.5, 10.0, 1.25)
        assert new.cache_write is None  # "0" cache write means none, not free
        assert new.as_of == dt.date.today()
        assert new.source == server.url + "/api/v1/models"
        free = c.price("openrouter/vendor/free-model:free")
        assert (free.input, free.output) == (0.0, 0.0)
        assert c.price("openrouter/openrouter/auto") is None  # variable price: unknown
        assert c.price(f"openrouter/{MODEL}").input == 0.2  # live beats the static table
        assert c.price("openrouter/anthropic/claude-haiku-4.5").source.startswith(
            "https://openrouter.ai")  # not in the listing: static table
        info = models["vendor/new-model"]
        assert info.display_name == "Fake: vendor/new-model"
        assert (info.context_window, info.max_output_tokens) == (128000, 16384)
        assert info.supports_tools and info.supports_vision and info.supports_json_schema
        assert info.extra["price"].input == 2.5
        assert "google/gemini-2.5-flash" in models  # table rows are listed too


def test_price_without_listing_uses_table(server, client):
    price = client.price("openrouter/openai/gpt-5")
    assert price.input == 1.25 and price.source == "https://openrouter.ai/models"
    assert client.price("openrouter/nobody/knows") is None
    assert not server.requests


def test_health_probes_key_endpoint(server, client):
    WIRE.script_models(server, [MODEL])
    (health,) = client.health("openrouter")
    assert health.status == "ok" and server.last.path == "/api/v1/key"
    assert server.last.headers["authorization"] == f"Bearer {KEY}"
    server.add("GET", "/api/v1/key", Reply.json({"error": {"code": 401,
                                                           "message": "User not found."}},
                                                status=401))
    (health,) = client.health("openrouter")
    assert health.status == "down" and KEY not in (health.detail or "")


def test_keyless_listing_falls_back_to_table_when_catalogue_fails(server):
    server.add("GET", "/api/v1/models", Reply.json({"error": {"code": 500,
                                                              "message": "boom"}}, status=500))
    with make(server) as c:  # no key: the catalogue is a bonus, the table still lists
        ids = {m.id for m in c.models("openrouter")}
        assert "openai/gpt-5" in ids and c.price("openrouter/openai/gpt-5").input == 1.25
    with make(server, api_key=KEY) as c, pytest.raises(errors.ProviderError):
        c.models("openrouter")  # with a key, a failing listing is reported
