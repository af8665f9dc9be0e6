"""Azure OpenAI specifics against a fake resource on real sockets: URL styles, api-key and
Entra ID auth (fake credentials and the real DefaultAzureCredential), content filters,
throttling headers, deployment-to-model prices and the model listing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any, NamedTuple

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
KEY = "azure-quirk-key-0000000000"
CHAT = "/openai/deployments/{}/chat/completions"
SCOPE = "https://cognitiveservices.azure.com/.default"
pytestmark = pytest.mark.timeout(30)


class AccessToken(NamedTuple):
    token: str
    expires_on: int


class CountingCredential:
    """Like azure.identity's sync credentials: get_token(*scopes) -> AccessToken."""

    def __init__(self, lifetime: int = 3600, fail: Exception | None = None) -> None:
        self.lifetime, self.fail = lifetime, fail
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.fail is not None:
            raise self.fail
        self.calls.append(scopes)
        return AccessToken(f"entra-token-{len(self.calls)}", int(time.time()) + self.lifetime)


class AsyncCredential(CountingCredential):
    """Like azure.identity.aio's credentials: an awaitable get_token."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        await asyncio.sleep(0)
        return super().get_token(*scopes)


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def make_client(server: FakeServer, **options: Any) -> plugbay.Client:
    opts = {"endpoint": server.url, **options}
    return plugbay.Client({"providers": {"azure": opts}}, env={})


def completion(text: str = "ok", **extra: Any) -> dict[str, Any]:
    body = WIRE.completion("gpt-4o", {"role": "assistant", "content": text}, "stop",
                           {"input": 3, "output": 2})
    body.update(extra)
    return body


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    data = WIRE.chunk("gpt-4o", {"content": content} if content else {}, finish)
    data.update(extra)
    return data


# ------------------------------------------------------------------ URLs


def test_classic_url_api_version_and_deployment_map(server):
    route = server.add("POST", CHAT.format("my-gpt4o-deploy"), Reply.json(completion()))
    with make_client(server, api_key=KEY, api_version="2025-04-01-preview",
                     deployments={"gpt-4o": "my-gpt4o-deploy"}) as client:
        client.complete("azure/gpt-4o", "hi", max_tokens=5)
    sent = route.requests[0]
    assert sent.query["api-version"] == ["2025-04-01-preview"]
    assert sent.headers["api-key"] == KEY and "authorization" not in sent.headers
    body = sent.json()
    # A version after the 2024-10-21 GA takes max_completion_tokens.
    assert body["max_completion_tokens"] == 5 and "max_tokens" not in body


def test_unmapped_model_is_the_deployment_and_ga_defaults(server):
    route = server.add("POST", CHAT.format("team-model"), Reply.json(completion()),
                       Reply.sse([chunk("ok", "stop"), "data: [DONE]\n\n"]))
    with make_client(server, api_key=KEY) as client:
        client.complete("azure/team-model", "hi", max_tokens=5)
        list(client.stream("azure/team-model", "hi"))
    sent = route.requests[0]
    assert sent.query["api-version"] == ["2024-10-21"]
    assert sent.json()["max_tokens"] == 5  # the GA version knows only max_tokens
    assert "stream_options" not in route.requests[1].json()


def test_endpoint_from_environment_and_v1_path(server):
    route = server.add("POST", "/openai/v1/chat/completions", Reply.json(completion()))
    env = {"AZURE_OPENAI_ENDPOINT": server.url + "/", "AZURE_OPENAI_API_KEY": KEY}
    with plugbay.Client({"providers": {"azure": {"api": "v1", "deployments": {
            "gpt-4o": "prod-4o"}}}}, env=env) as client:
        client.complete("azure/gpt-4o", "hi", max_tokens=7)
    sent = route.requests[0]
    assert "api-version" not in sent.query and sent.headers["api-key"] == KEY
    assert sent.json()["model"] == "prod-4o" and sent.json()["max_completion_tokens"] == 7


def test_missing_endpoint_is_a_config_error():
    with plugbay.Client({"providers": {"azure": {"api_key": KEY}}}, env={}) as client, \
            pytest.raises(errors.ConfigError, match="AZURE_OPENAI_ENDPOINT"):
        client.complete("azure/gpt-4o", "hi")


# ------------------------------------------------------------------ Entra ID


def test_entra_token_cached_and_refreshed_before_expiry(server):
    route = server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    credential = CountingCredential()
    with make_client(server, credential=credential) as client:
        client.complete("azure/gpt-4o", "one")
        client.complete("azure/gpt-4o", "two")
        assert len(credential.calls) == 1, "the token must be cached"
        assert credential.calls[0] == (SCOPE,)
        token = client.context("azure").state["entra"]
        # 56 minutes later the token expires in 4 minutes: inside the 5-minute margin.
        token.clock = lambda: time.time() + 3360
        client.complete("azure/gpt-4o", "three")
        assert len(credential.calls) == 2
    auths = [r.headers["authorization"] for r in route.requests]
    assert auths == ["Bearer entra-token-1", "Bearer entra-token-1", "Bearer entra-token-2"]
    assert all("api-key" not in r.headers for r in route.requests)


def test_short_lived_token_is_fetched_each_time(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    credential = CountingCredential(lifetime=60)  # already inside the margin
    with make_client(server, credential=credential) as client:
        client.complete("azure/gpt-4o", "one")
        client.complete("azure/gpt-4o", "two")
    assert len(credential.calls) == 2


async def test_async_credential_and_one_fetch_for_concurrent_calls(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    credential = AsyncCredential()
    async with make_client(server, credential=credential) as client:
        results = await asyncio.gather(*(client.acomplete("azure/gpt-4o", "hi")
                                         for _ in range(5)))
    assert [r.text for r in results] == ["ok"] * 5
    assert len(credential.calls) == 1


def test_explicit_credential_wins_over_key(server):
    route = server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    with make_client(server, api_key=KEY, credential=CountingCredential()) as client:
        client.complete("azure/gpt-4o", "hi")
    assert route.requests[0].headers["authorization"] == "Bearer entra-token-1"
    assert "api-key" not in route.requests[0].headers


def test_credential_failure_is_authentication_error(server):
    route = server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    broken = CountingCredential(fail=RuntimeError("no az login session"))
    with make_client(server, credential=broken) as client:
        with pytest.raises(errors.AuthenticationError, match="az login") as caught:
            client.complete("azure/gpt-4o", "hi")
        assert caught.value.provider == "azure"
        assert client.health("azure")[0].status == "down"
    assert route.hits == 0


def test_default_azure_credential_with_managed_identity(server, monkeypatch):
    """No key and no credential: the real DefaultAzureCredential, here reaching an App
    Service managed-identity endpoint played by the fake server."""
    pytest.importorskip("azure.identity")
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME",
                "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_CERTIFICATE_PATH", "MSI_ENDPOINT",
                "AZURE_TOKEN_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    mi = server.add("GET", "/msi/token", Reply.json({
        "access_token": "managed-identity-token", "expires_on": str(int(time.time()) + 3600),
        "resource": "https://cognitiveservices.azure.com", "token_type": "Bearer"}))
    monkeypatch.setenv("IDENTITY_ENDPOINT", server.url + "/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "fake-identity-header")
    chat = server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    with make_client(server) as client:
        client.complete("azure/gpt-4o", "hi")
        client.complete("azure/gpt-4o", "again")
    assert mi.hits == 1
    assert mi.requests[0].query["resource"] == ["https://cognitiveservices.azure.com"]
    assert [r.headers["authorization"] for r in chat.requests] == \
        ["Bearer managed-identity-token"] * 2


def test_sdk_never_imported_at_import_time():
    code = ("import sys, plugbay, plugbay_azure; "
            "print(sorted(m for m in sys.modules if m.startswith(('azure', 'msal'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_key_auth_never_imports_the_sdk(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion()))
    code = ("import sys, plugbay\n"
            f"c = plugbay.Client({{'providers': {{'azure': {{'endpoint': {server.url!r}, "
            f"'api_key': {KEY!r}}}}}}}, env={{}})\n"
            "c.complete('azure/gpt-4o', 'hi'); c.close()\n"
            "print(any(m.startswith('azure.identity') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ------------------------------------------------------------------ content filters


FILTERS = {"hate": {"filtered": False, "severity": "safe"},
           "violence": {"filtered": False, "severity": "low"}}


def test_filter_results_on_completion(server):
    body = completion(prompt_filter_results=[{"prompt_index": 0,
                                              "content_filter_results": FILTERS}])
    body["choices"][0]["content_filter_results"] = FILTERS
    server.add("POST", CHAT.format("gpt-4o"), Reply.json(body))
    with make_client(server, api_key=KEY) as client:
        result = client.complete("azure/gpt-4o", "hi")
    assert result.extra["prompt_filter_results"][0]["content_filter_results"] == FILTERS
    assert result.extra["content_filter_results"] == FILTERS


def test_stream_first_chunk_with_empty_choices_and_filtered_finish(server):
    first = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
             "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}]}
    blocked = {"violence": {"filtered": True, "severity": "high"}}
    last = chunk(None, "content_filter")
    last["choices"][0]["content_filter_results"] = blocked
    server.add("POST", CHAT.format("gpt-4o"), Reply.sse(
        [first, chunk("Once"), chunk(" upon"), last, "data: [DONE]\n\n"]))
    with make_client(server, api_key=KEY) as client, client.stream("azure/gpt-4o", "hi") as s:
        texts = [e.text for e in s if e.type == "text"]
    assert texts == ["Once", " upon"]
    done = s.completion
    assert done.finish_reason == "content_filter" and done.raw_finish_reason == "content_filter"
    if "extra" in plugbay.FinishEvent.model_fields:  # stream extras reach the completion
        assert done.extra["prompt_filter_results"][0]["content_filter_results"] == FILTERS
        assert done.extra["content_filter_results"] == blocked


def test_blocked_prompt_is_content_filter_error(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json({"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
                   "content management policy.", "type": None, "param": "prompt",
        "code": "content_filter", "status": 400, "innererror": {
            "code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                "violence": {"filtered": True, "severity": "high"}}}}}, status=400,
        headers={"apim-request-id": "apim-123"}))
    with make_client(server, api_key=KEY) as client, \
            pytest.raises(errors.ContentFilterError) as caught:
        client.complete("azure/gpt-4o", "hi")
    exc = caught.value
    assert exc.status == 400 and exc.code == "content_filter" and exc.retryable is False
    assert exc.request_id == "apim-123"
    assert exc.body["error"]["innererror"]["content_filter_result"]["violence"]["filtered"]


def test_innererror_alone_marks_content_filter(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json({"error": {
        "message": "blocked", "code": "BadRequest",
        "innererror": {"code": "ResponsibleAIPolicyViolation"}}}, status=400))
    with make_client(server, api_key=KEY) as client, pytest.raises(errors.ContentFilterError):
        client.complete("azure/gpt-4o", "hi")


# ------------------------------------------------------------------ throttling


@pytest.mark.parametrize(("headers", "wait"), [({"retry-after": "7"}, 7.0),
                                               ({"retry-after-ms": "2500",
                                                 "retry-after": "3"}, 2.5)])
def test_429_retry_after_and_rate_limit_headers(server, headers, wait):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json(
        {"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation "
                   "have exceeded token rate limit of your current AIServices S0 tier."}},
        status=429, headers={**headers, "x-ratelimit-remaining-requests": "0",
                             "x-ratelimit-remaining-tokens": "120"}))
    with make_client(server, api_key=KEY) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            client.complete("azure/gpt-4o", "hi", retries=0)
        assert caught.value.retry_after == wait and caught.value.retryable
        state = client.context("azure").state
    assert state["rate_limits"] == {"remaining-requests": 0, "remaining-tokens": 120}


def test_rate_limit_headers_on_success(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json(completion(), headers={
        "x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "9000"}))
    with make_client(server, api_key=KEY) as client:
        result = client.complete("azure/gpt-4o", "hi")
    assert result.extra["rate_limits"] == {"remaining-requests": 99, "remaining-tokens": 9000}


# ------------------------------------------------------------------ prices and models


def test_price_by_base_model_of_a_deployment(server):
    deployments = {"prod": {"deployment": "prod-eu-4o", "model": "gpt-4o"},
                   "gpt-4.1-mini": "mini-deploy"}
    with make_client(server, api_key=KEY, deployments=deployments) as client:
        gpt4o = client.price("azure/gpt-4o")
        assert gpt4o is not None and client.price("azure/prod") == gpt4o
        assert client.price("azure/prod-eu-4o") == gpt4o  # by deployment name too
        assert client.price("azure/mini-deploy") == client.price("azure/gpt-4.1-mini")
        assert client.price("azure/my-unknown-deployment") is None
    assert gpt4o.input == 2.5 and gpt4o.as_of and gpt4o.source.startswith("https://")


def test_list_models_survives_a_failing_listing(server):
    server.add("GET", "/openai/models", Reply.json({"error": {"message": "nope"}}, status=403))
    deployments = {"prod": {"deployment": "prod-eu-4o", "model": "gpt-4o"}, "mini": "mini-dep"}
    with make_client(server, api_key=KEY, deployments=deployments) as client:
        models = {m.id: m for m in client.models("azure")}
    assert set(models) == {"prod", "mini"}
    assert models["prod"].extra["deployment"] == "prod-eu-4o"
    assert models["prod"].context_window == 128000  # facts of the base model
    server.stop()
    with make_client(server, api_key=KEY, deployments=deployments) as client:
        assert {m.id for m in client.models("azure")} == {"prod", "mini"}


def test_list_models_merges_the_live_listing(server):
    server.add("GET", "/openai/models", Reply.json({"data": [
        {"id": "gpt-4o-2024-11-20", "capabilities": {"chat_completion": True},
         "lifecycle_status": "generally-available"}]}))
    with make_client(server, api_key=KEY, deployments={"prod": "p"}) as client:
        models = {m.id: m for m in client.models("azure")}
    assert set(models) == {"prod", "gpt-4o-2024-11-20"}
    assert models["gpt-4o-2024-11-20"].extra["lifecycle_status"] == "generally-available"
    assert server.last.query["api-version"] == ["2024-10-21"]


def test_health_uses_the_models_route(server):
    route = server.add("GET", "/openai/v1/models", Reply.json({"data": []}))
    with make_client(server, api="v1", credential=CountingCredential()) as client:
        assert client.health("azure")[0].status == "ok"
    assert route.requests[0].headers["authorization"] == "Bearer entra-token-1"


def test_entra_token_redacted_from_errors(server):
    server.add("POST", CHAT.format("gpt-4o"), Reply.json({"error": {
        "code": "401", "message": "token entra-token-1 is not valid for this audience"}},
        status=401))
    with make_client(server, credential=CountingCredential()) as client, \
            pytest.raises(errors.AuthenticationError) as caught:
        client.complete("azure/gpt-4o", "hi")
    shown = str(caught.value) + repr(caught.value.body)
    assert "entra-token-1" not in shown
