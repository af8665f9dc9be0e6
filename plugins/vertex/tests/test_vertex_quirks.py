"""Vertex AI specifics on real sockets: Application Default Credentials and key files
exchanged at a fake OAuth2 token endpoint, token caching and refresh, refresh failures,
URL shapes per publisher and location, Claude's rawPredict body, prices, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from plugbay_vertex import provider as vertex
from plugbay_vertex.testing import FakeGoogleOAuth

import plugbay
from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytest.importorskip("cryptography")
pytest.importorskip("google.auth")
pytestmark = pytest.mark.timeout(60)

PROJECT = "fake-project"
BASE = f"/v1/projects/{PROJECT}/locations/us-central1/publishers"
GEMINI = BASE + "/google/models/gemini-2.5-flash:generateContent"
GEMINI_STREAM = BASE + "/google/models/gemini-2.5-flash:streamGenerateContent"
CLAUDE = BASE + "/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
CLAUDE_STREAM = BASE + "/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"


def gemini_answer(text: str = "ok") -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1,
                              "totalTokenCount": 5}, "modelVersion": "gemini-2.5-flash"}


def claude_answer(text: str = "ok") -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 1}}


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def oauth(server):
    return FakeGoogleOAuth(server, project=PROJECT)


@pytest.fixture
def key_file(oauth, tmp_path):
    return oauth.write_service_account(tmp_path)


def make_client(server: FakeServer, env: dict[str, str] | None = None,
                **options: Any) -> plugbay.Client:
    return plugbay.Client({"providers": {"vertex": {"base_url": server.url, **options}}},
                          env=env or {})


# ------------------------------------------------------------------ credentials


def test_service_account_file_from_env_snapshot(server, oauth, key_file):
    route = server.add("POST", GEMINI, Reply.json(gemini_answer()))
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
    with make_client(server, env) as client:
        assert client.complete("vertex/gemini-2.5-flash", "one").text == "ok"
        client.complete("vertex/gemini-2.5-flash", "two")
    assert len(oauth.issued) == 1, "the token must be cached"
    grant = oauth.grants[0]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    # The project came from the key file; the path names project, location, publisher.
    assert [r.headers["authorization"] for r in route.requests] == \
        ["Bearer ya29.fake-access-token-1"] * 2


def test_application_default_credentials(server, oauth, key_file, monkeypatch):
    """No credentials in config: google.auth.default() finds the key file in the real
    environment, as it does for the Google SDKs."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    route = server.add("POST", GEMINI, Reply.json(gemini_answer()))
    with make_client(server) as client:
        client.complete("vertex/gemini-2.5-flash", "hi")
    assert route.hits == 1 and len(oauth.issued) == 1


def test_token_refreshed_before_expiry(server, oauth, key_file):
    route = server.add("POST", GEMINI, Reply.json(gemini_answer()))
    with make_client(server, credentials_file=str(key_file)) as client:
        client.complete("vertex/gemini-2.5-flash", "one")
        token = client.context("vertex").state["token"]
        token.clock = lambda: time.time() + 3400  # 200 s left: inside the 5-minute margin
        client.complete("vertex/gemini-2.5-flash", "two")
        token.clock = time.time
        client.complete("vertex/gemini-2.5-flash", "three")
    assert len(oauth.issued) == 2 and token.refreshes == 2
    assert [r.headers["authorization"][-1] for r in route.requests] == ["1", "2", "2"]


def test_authorized_user_file_with_quota_project(server, oauth, tmp_path):
    """gcloud user credentials: the refresh-token grant, the quota project header, and a
    project that must then come from config or the environment."""
    path = oauth.write_authorized_user(tmp_path, quota_project="billing-project")
    route = server.add("POST", GEMINI, Reply.json(gemini_answer()))
    env = {"GOOGLE_CLOUD_PROJECT": PROJECT}
    with make_client(server, env, credentials_file=str(path),
                     token_uri=oauth.token_uri) as client:
        client.complete("vertex/gemini-2.5-flash", "hi")
    assert oauth.grants[0]["grant_type"] == "refresh_token"
    sent = route.requests[0]
    assert sent.headers["authorization"] == "Bearer ya29.fake-access-token-1"
    assert sent.headers["x-goog-user-project"] == "billing-project"


def test_authorized_user_without_project_is_a_config_error(server, oauth, tmp_path):
    path = oauth.write_authorized_user(tmp_path)
    with make_client(server, credentials_file=str(path), token_uri=oauth.token_uri) as client, \
            pytest.raises(errors.ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        client.complete("vertex/gemini-2.5-flash", "hi")


def test_credentials_object_in_config(server, oauth):
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_info(
        oauth.service_account_info(), scopes=["https://www.googleapis.com/auth/cloud-platform"])
    route = server.add("POST", GEMINI, Reply.json(gemini_answer()))
    with make_client(server, credentials=creds) as client:
        client.complete("vertex/gemini-2.5-flash", "hi")
    assert route.hits == 1 and len(oauth.issued) == 1  # project taken from the object


def test_refresh_failure_is_authentication_error(server, oauth, key_file):
    oauth.failure = (400, {"error": "invalid_grant", "error_description": "Invalid JWT "
                                                                          "Signature."})
    route = server.add("POST", GEMINI, Reply.json(gemini_answer()))
    with make_client(server, credentials_file=str(key_file)) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            client.complete("vertex/gemini-2.5-flash", "hi")
        message = str(caught.value)
        assert "invalid_grant" in message and "gcloud auth application-default login" in message
        assert caught.value.provider == "vertex" and not caught.value.retryable
        health = client.health("vertex")[0]
        assert health.status == "down" and "refreshing" in (health.detail or "")
    assert route.hits == 0


def test_missing_key_file_is_authentication_error(server, tmp_path):
    with make_client(server, credentials_file=str(tmp_path / "nope.json"),
                     project=PROJECT) as client, \
            pytest.raises(errors.AuthenticationError, match="no usable Google credentials"):
        client.complete("vertex/gemini-2.5-flash", "hi")


def test_vertex_401_is_authentication_error_without_the_token(server, oauth, key_file):
    server.add("POST", GEMINI, Reply.json({"error": {
        "code": 401, "status": "UNAUTHENTICATED",
        "message": "Request had invalid authentication credentials: ya29.fake-access-token-1"}},
        status=401))
    with make_client(server, credentials_file=str(key_file)) as client, \
            pytest.raises(errors.AuthenticationError) as caught:
        client.complete("vertex/gemini-2.5-flash", "hi")
    assert "ya29.fake-access-token-1" not in str(caught.value)


# ------------------------------------------------------------------ URLs and bodies


def test_gemini_stream_url_and_roles(server, oauth, key_file):
    route = server.add("POST", GEMINI_STREAM, Reply.sse([
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]},
                         "finishReason": "STOP"}]}]))
    messages = [plugbay.Message.system("be brief"), plugbay.Message.user("hi"),
                plugbay.Message.assistant("hello"), plugbay.Message.user("again")]
    with make_client(server, credentials_file=str(key_file)) as client, \
            client.stream("vertex/google/gemini-2.5-flash", messages) as s:
        assert "".join(e.text for e in s if e.type == "text") == "Hello"
    sent = route.requests[0]
    assert sent.query["alt"] == ["sse"]
    body = sent.json()
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["systemInstruction"]["parts"][0]["text"] == "be brief"


def test_gemini_streamed_function_call_arguments(server, oauth, key_file):
    """``stream_function_call_arguments=True`` turns the mode on; the fragments (name,
    then ``partialArgs`` by JSON path, then an empty ``functionCall``) make one call."""
    def part(fc, **more):
        return {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": fc}]},
                                **more}]}
    route = server.add("POST", GEMINI_STREAM, Reply.sse([
        part({"name": "get_weather", "willContinue": True}),
        part({"partialArgs": [{"jsonPath": "$.location", "stringValue": "New ",
                               "willContinue": True}], "willContinue": True}),
        part({"partialArgs": [{"jsonPath": "$.location", "stringValue": "York"},
                              {"jsonPath": "$.when.days[1]", "numberValue": 2}],
              "willContinue": True}),
        part({}, finishReason="STOP")]))
    tool = plugbay.Tool(name="get_weather")
    with make_client(server, credentials_file=str(key_file)) as client, \
            client.stream("vertex/gemini-2.5-flash", "Weather?", tools=[tool],
                          stream_function_call_arguments=True) as s:
        done = s.get_completion()
    assert [(c.name, c.args) for c in done.tool_calls] == [
        ("get_weather", {"location": "New York", "when": {"days": [None, 2]}})]
    assert done.finish_reason == "tool_calls"
    body = route.requests[0].json()
    assert body["toolConfig"] == {"functionCallingConfig": {"streamFunctionCallArguments": True}}
    assert "stream_function_call_arguments" not in body


def test_claude_raw_predict_body(server, oauth, key_file):
    route = server.add("POST", CLAUDE, Reply.json(claude_answer("bonjour")))
    with make_client(server, credentials_file=str(key_file)) as client:
        result = client.complete("vertex/anthropic/claude-sonnet-4-5@20250929",
                                 [plugbay.Message.system("French"), plugbay.Message.user("hi")],
                                 max_tokens=30)
    assert result.text == "bonjour" and result.usage.input_tokens == 5
    body = route.requests[0].json()
    assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
    assert body["system"] == "French" and body["max_tokens"] == 30


def test_claude_stream_and_mid_stream_error(server, oauth, key_file):
    server.add("POST", CLAUDE_STREAM, Reply.sse([
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":'
        '"message","role":"assistant","content":[],"model":"claude","usage":'
        '{"input_tokens":3,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"par"}}\n\n',
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        '"message":"Overloaded"}}\n\n']))
    with make_client(server, credentials_file=str(key_file)) as client, \
            pytest.raises(errors.OverloadedError) as caught, \
            client.stream("vertex/claude-sonnet-4-5@20250929", "hi") as s:
        list(s)
    assert caught.value.provider == "vertex"


def test_google_shaped_quota_error_on_claude_route(server, oauth, key_file):
    server.add("POST", CLAUDE, Reply.json({"error": {
        "code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded for "
        "aiplatform.googleapis.com/online_prediction_requests_per_base_model",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                     "retryDelay": "20s"}]}}, status=429))
    with make_client(server, credentials_file=str(key_file)) as client, \
            pytest.raises(errors.RateLimitError) as caught:
        client.complete("vertex/claude-sonnet-4-5@20250929", "hi", retries=0)
    assert caught.value.retry_after == 20.0


def test_hosts_for_regional_and_global_locations():
    regional = ProviderContext("vertex", "vertex", options={"location": "europe-west4"})
    world = ProviderContext("vertex", "vertex", env={"GOOGLE_CLOUD_LOCATION": "global"})
    assert vertex.host(regional) == "https://europe-west4-aiplatform.googleapis.com"
    assert vertex.host(world) == "https://aiplatform.googleapis.com"
    assert vertex.host(ProviderContext("vertex", "vertex")) == \
        "https://us-central1-aiplatform.googleapis.com"


def test_global_location_and_project_from_environment(server, oauth, key_file):
    path = "/v1/projects/env-project/locations/global/publishers/google/models/" \
           "gemini-2.5-flash:generateContent"
    route = server.add("POST", path, Reply.json(gemini_answer()))
    env = {"GOOGLE_CLOUD_PROJECT": "env-project", "GOOGLE_CLOUD_LOCATION": "global"}
    with make_client(server, env, credentials_file=str(key_file)) as client:
        client.complete("vertex/gemini-2.5-flash", "hi")
    assert route.hits == 1


# ------------------------------------------------------------------ prices and imports


def test_prices_by_base_id_and_regional_uplift():
    with plugbay.Client({"providers": {"vertex": {"location": "global"}}}, env={}) as c:
        sonnet = c.price("vertex/claude-sonnet-4-5@20250929")
        assert sonnet is not None and (sonnet.input, sonnet.output) == (3.0, 15.0)
        assert c.price("vertex/anthropic/claude-sonnet-4-5") == sonnet
        assert c.price("vertex/gemini-2.5-flash").input == 0.30
        assert c.price("vertex/claude-unknown@2026") is None
    with plugbay.Client({"providers": {"vertex": {"location": "us-east5"}}}, env={}) as c:
        regional = c.price("vertex/claude-sonnet-4-5@20250929")
        gemini = c.price("vertex/gemini-2.5-flash")
    assert (regional.input, regional.output, regional.cached_input) == (3.3, 16.5, 0.33)
    assert gemini.input == 0.30  # Google's own models have no regional uplift here
    assert regional.as_of and regional.source.startswith("https://")


def test_list_models_is_the_table():
    with plugbay.Client({"providers": {"vertex": {}}}, env={}) as c:
        ids = {m.id for m in c.models("vertex")}
    assert {"gemini-2.5-pro", "claude-sonnet-4-5"} <= ids


def test_google_auth_never_imported_with_the_plugin():
    code = ("import sys, plugbay, plugbay_vertex; "
            "print(sorted(m for m in sys.modules if m.startswith(('google', 'cryptography'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


async def test_one_token_exchange_for_concurrent_calls(server, oauth, key_file):
    import asyncio

    server.add("POST", GEMINI, Reply.json(gemini_answer()))
    async with make_client(server, credentials_file=str(key_file)) as client:
        results = await asyncio.gather(*(client.acomplete("vertex/gemini-2.5-flash", "hi")
                                         for _ in range(6)))
    assert [r.text for r in results] == ["ok"] * 6
    assert len(oauth.issued) == 1
