"""Bedrock's ``CountTokens`` (bedrock-runtime ``POST /model/{id}/count-tokens``) on a real
socket behind a fake that checks SigV4: the Converse input, the bare model id, the
answer's ``inputTokens``, and the estimate for a model Bedrock cannot count."""

from __future__ import annotations

import re

import pytest
from bedrock_fakes import MODEL, aws_error, signed, static

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(60)
KEYS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
COUNT = re.compile(r"/model/([^/]+)/count-tokens")
TOOL = plugbay.Tool(name="get_weather", description="Weather for a city",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}}})
MESSAGES = [plugbay.Message.system("Be brief."), plugbay.Message.user("Weather in Oslo?")]


def test_counts_the_converse_input_of_the_bare_model(server: FakeServer) -> None:
    route = server.add("POST", COUNT, signed(Reply.json({"inputTokens": 388}), KEYS,
                                             region="us-east-1"))
    with static(server) as c:
        counted = c.count_tokens(f"bedrock/{MODEL}", MESSAGES, tools=[TOOL])
    assert (counted.count, counted.exact, counted.source) == (388, True, "provider")
    assert counted.model == MODEL
    sent = route.requests[0]
    # an inference profile (us.) is not accepted by CountTokens: the foundation model is
    path = COUNT.fullmatch(sent.path)
    assert path is not None and path.group(1) == "anthropic.claude-sonnet-4-5-20250929-v1%3A0"
    converse = sent.json()["input"]["converse"]
    assert set(converse) == {"messages", "system", "toolConfig"}  # no inferenceConfig
    assert converse["system"] == [{"text": "Be brief."}]
    assert converse["messages"][0]["content"][0]["text"] == "Weather in Oslo?"
    assert converse["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"


def test_a_model_without_a_counter_gets_the_estimate(server: FakeServer) -> None:
    route = server.add("POST", COUNT, signed(aws_error(
        "ValidationException", "The provided model doesn't support counting tokens.", 400),
        KEYS, region="us-east-1"))
    with static(server) as c:
        counted = c.count_tokens("bedrock/us.amazon.nova-pro-v1:0", MESSAGES)
    assert (counted.exact, counted.source) == (False, "estimate")
    assert route.hits == 1


def test_other_errors_are_typed(server: FakeServer) -> None:
    server.add("POST", COUNT, signed(aws_error("ThrottlingException", "Too many requests.",
                                               429), KEYS, region="us-east-1"))
    with static(server) as c, pytest.raises(errors.RateLimitError):
        c.count_tokens(f"bedrock/{MODEL}", "hi")
