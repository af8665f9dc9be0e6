"""Vertex AI's token counters on real sockets, with Google OAuth from the fake token
endpoint: Gemini's ``:countTokens`` (contents, system instruction and tools at the top
level) and Claude's ``count-tokens:rawPredict`` (the model in the body)."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugbay_vertex.testing import FakeGoogleOAuth

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytest.importorskip("cryptography")
pytest.importorskip("google.auth")
pytestmark = pytest.mark.timeout(60)

PROJECT = "count-project"
BASE = f"/v1/projects/{PROJECT}/locations/us-central1/publishers"
TOOL = plugbay.Tool(name="get_weather", description="Weather for a city",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}}})
MESSAGES = [plugbay.Message.system("Be brief."), plugbay.Message.user("Weather in Oslo?")]


def client(server: FakeServer, tmp_path: Path) -> plugbay.Client:
    key = FakeGoogleOAuth(server, project=PROJECT).write_service_account(tmp_path)
    return plugbay.Client({"providers": {"vertex": {
        "base_url": server.url, "credentials_file": str(key)}},
        "routing": {"retries": 0}, "ledger": {"path": "off"}}, env={})


def test_gemini_counts_with_count_tokens(fake_server: FakeServer, tmp_path: Path) -> None:
    route = fake_server.add("POST", BASE + "/google/models/gemini-2.5-flash:countTokens",
                            Reply.json({"totalTokens": 31, "totalBillableCharacters": 96}))
    with client(fake_server, tmp_path) as c:
        counted = c.count_tokens("vertex/gemini-2.5-flash", MESSAGES, tools=[TOOL])
    assert (counted.count, counted.exact, counted.source) == (31, True, "provider")
    assert (counted.provider, counted.model) == ("vertex", "gemini-2.5-flash")
    sent = route.requests[0]
    body = sent.json()
    assert set(body) == {"contents", "systemInstruction", "tools"}  # no wrapper, no config
    assert body["contents"][0]["parts"][0]["text"] == "Weather in Oslo?"
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert sent.headers["authorization"].startswith("Bearer ya29.")


def test_claude_counts_with_the_count_tokens_raw_predict(fake_server: FakeServer,
                                                         tmp_path: Path) -> None:
    route = fake_server.add("POST", BASE + "/anthropic/models/count-tokens:rawPredict",
                            Reply.json({"input_tokens": 412}))
    with client(fake_server, tmp_path) as c:
        counted = c.count_tokens("vertex/claude-sonnet-4-5@20250929", MESSAGES, tools=[TOOL])
    assert (counted.count, counted.exact) == (412, True)
    body = route.requests[0].json()
    assert body["model"] == "claude-sonnet-4-5@20250929"  # named in the body, not the path
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert body["system"] and body["tools"][0]["name"] == "get_weather"
    assert "max_tokens" not in body and "stream" not in body


def test_errors_are_the_usual_typed_ones(fake_server: FakeServer, tmp_path: Path) -> None:
    fake_server.add("POST", BASE + "/google/models/gemini-2.5-flash:countTokens", Reply.json(
        {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}},
        status=429))
    fake_server.add("POST", BASE + "/anthropic/models/count-tokens:rawPredict",
                    Reply.json({"type": "count"}))
    with client(fake_server, tmp_path) as c:
        with pytest.raises(errors.RateLimitError):
            c.count_tokens("vertex/gemini-2.5-flash", "hi")
        with pytest.raises(errors.MalformedResponseError):
            c.count_tokens("vertex/claude-sonnet-4-5", "hi")
