"""OpenAI and Azure count tokens locally with tiktoken, offline: the encoding files come
from a PyPI package (``tiktoken_cache`` fixture, plugbay.testing.encodings) and load
through tiktoken's own cache path, whose pinned SHA-256 proves they are OpenAI's.

The expected figures are the ones OpenAI's cookbook ("How to count tokens with
tiktoken") shows its API returning as ``usage.prompt_tokens`` for these exact requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import plugbay
from plugbay.testing.server import FakeServer

pytest.importorskip("plugbay_openai")
pytestmark = pytest.mark.timeout(60)

# The cookbook's first example: system messages, two of them with names.
JARGON = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that "
                                  "translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user",
     "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant",
     "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user",
     "content": "Let's circle back when we have more bandwidth to touch base on "
                "opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant",
     "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the "
                                "ocean for the client deliverable."},
]
# Its tools example.
WEATHER = [plugbay.Message.system("You are a helpful assistant that can answer to questions "
                                  "about the weather."),
           plugbay.Message.user("What's the weather like in San Francisco?")]
WEATHER_TOOL = plugbay.Tool(
    name="get_current_weather", description="Get the current weather in a given location",
    parameters={"type": "object", "required": ["location"], "properties": {
        "location": {"type": "string",
                     "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "description": "The unit of temperature to return",
                 "enum": ["celsius", "fahrenheit"]}}})


def client(server: FakeServer, provider: str = "openai", **options: object) -> plugbay.Client:
    opts = {"base_url": server.url, "api_key": "sk-test-0123456789", **options}
    return plugbay.Client({"providers": {provider: opts}, "routing": {"retries": 0},
                           "ledger": {"path": "off"}}, env={})


@pytest.mark.parametrize(("model", "api_said"), [
    ("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4-0613", 129), ("gpt-4", 129),
    ("gpt-3.5-turbo", 129)])
def test_text_messages_count_as_the_api_did(fake_server: FakeServer, tiktoken_cache: Path,
                                            model: str, api_said: int) -> None:
    with client(fake_server) as c:
        counted = c.count_tokens(f"openai/{model}", JARGON)
    assert (counted.count, counted.exact, counted.source) == (api_said, True, "local")
    assert fake_server.requests == []  # counted here, nothing sent


@pytest.mark.parametrize(("model", "api_said"), [
    ("gpt-4o", 101), ("gpt-4o-mini", 101), ("gpt-4", 105), ("gpt-3.5-turbo", 105)])
def test_tool_definitions_add_the_documented_overhead(
        fake_server: FakeServer, tiktoken_cache: Path, model: str, api_said: int) -> None:
    with client(fake_server) as c:
        counted = c.count_tokens(f"openai/{model}", WEATHER, tools=[WEATHER_TOOL])
        bare = c.count_tokens(f"openai/{model}", WEATHER)
    assert counted.count == api_said
    assert counted.exact is False  # OpenAI calls its tool rule an estimate
    assert bare.exact is True and bare.count < counted.count


def test_azure_counts_with_the_tokenizer_of_the_model_its_deployment_runs(
        fake_server: FakeServer, tiktoken_cache: Path) -> None:
    pytest.importorskip("plugbay_azure")
    deployments = {"prod-chat": {"deployment": "prod-chat", "model": "gpt-4o"},
                   "legacy": {"deployment": "legacy", "model": "gpt-35-turbo"}}
    with plugbay.Client({"providers": {"azure": {
            "endpoint": fake_server.url, "api_key": "azure-key-0123456789",
            "deployments": deployments}}, "ledger": {"path": "off"}}, env={}) as c:
        o200k = c.count_tokens("azure/prod-chat", JARGON)
        cl100k = c.count_tokens("azure/legacy", JARGON)
    assert (o200k.count, o200k.source, o200k.provider) == (124, "local", "azure")
    assert cl100k.count == 129
    assert fake_server.requests == []


def test_what_the_rules_do_not_cover_is_counted_but_not_exact(
        fake_server: FakeServer, tiktoken_cache: Path) -> None:
    image = plugbay.ImagePart(url="https://example.test/cat.png")
    call = plugbay.ToolCall(id="call_1", name="get_current_weather",
                            arguments='{"location": "Oslo"}')
    history = [*WEATHER, plugbay.Message.assistant(None, [call]),
               plugbay.Message.tool("call_1", "12 C")]
    with client(fake_server) as c:
        text = c.count_tokens("openai/gpt-4o", "Describe this.")
        pictured = c.count_tokens("openai/gpt-4o", plugbay.Message.user("Describe this.", image))
        with_calls = c.count_tokens("openai/gpt-4o", history)
        newer = c.count_tokens("openai/gpt-4.1-mini", "Describe this.")
        marker = c.count_tokens("openai/gpt-4o", "say <|endoftext|> twice <|endoftext|>")
    assert text.exact and not pictured.exact and pictured.count > text.count
    assert not with_calls.exact and with_calls.count > c.count_tokens("openai/gpt-4o",
                                                                       WEATHER).count
    # gpt-4.1 has o200k_base but no overhead in the cookbook: same count, not exact
    assert (newer.count, newer.exact, newer.source) == (text.count, False, "local")
    assert marker.source == "local" and marker.count > text.count  # a marker is just text


def test_a_model_tiktoken_does_not_know_is_estimated(fake_server: FakeServer,
                                                     tiktoken_cache: Path) -> None:
    with client(fake_server) as c:
        counted = c.count_tokens("openai/my-own-model", "hello there")
    assert (counted.exact, counted.source) == (False, "estimate")


# ------------------------------------------------------------------ in a fresh process

_PROBE = """
import json, sys
import plugbay, plugbay_openai, plugbay_azure
loaded_at_import = sorted(m for m in ("tiktoken", "requests") if m in sys.modules)
with plugbay.Client({"providers": {"openai": {"api_key": "sk-test-0123456789",
                                              "base_url": "http://127.0.0.1:9"}},
                     "ledger": {"path": "off"}}, env={}) as c:
    first = c.count_tokens("openai/gpt-4o", "Hello, world")
    again = c.count_tokens("openai/gpt-4o", "Hello, world")
print(json.dumps({"import": loaded_at_import, "source": first.source, "count": first.count,
                  "again": again.source}))
"""


def _probe(cache_dir: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    # a download attempt goes to a closed local port, never off the machine
    env.update(TIKTOKEN_CACHE_DIR=str(cache_dir), HTTPS_PROXY="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="")
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                          text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_import_loads_no_tokenizer_and_the_cache_dir_is_read(tiktoken_cache: Path) -> None:
    pytest.importorskip("plugbay_azure")
    result = _probe(tiktoken_cache)
    assert result["import"] == []  # neither tiktoken nor its downloader at import
    # "Hello, world": 3 (message) + 1 ("user") + 3 ("Hello", ",", " world") + 3 (reply)
    assert (result["source"], result["count"], result["again"]) == ("local", 10, "local")


def test_without_the_encoding_file_it_estimates_instead_of_failing(tmp_path: Path) -> None:
    pytest.importorskip("plugbay_azure")
    result = _probe(tmp_path)  # an empty cache, and the download cannot get out
    assert (result["source"], result["again"]) == ("estimate", "estimate")
    assert list(tmp_path.iterdir()) == []
