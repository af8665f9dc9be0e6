"""chat_completion_json writes what codec reads back: the two are each other's inverse."""

from __future__ import annotations

import pytest

from plugbay.openai_compat.codec import finish_reason, parse_message, parse_usage
from plugbay.openai_compat.encode import chat_completion_json
from plugbay.types import Completion, ToolCall, Usage

CASES = [
    Completion(text="hi", model="m", provider="p", id="c1",
               usage=Usage(input_tokens=10, output_tokens=3, cached_input_tokens=4,
                           reasoning_tokens=2)),
    Completion(text="", model="m", provider="p", finish_reason="tool_calls",
               tool_calls=[ToolCall(id="t1", name="get", arguments='{"q": 1}')]),
    Completion(text="a", reasoning="because", model="m", provider="p", finish_reason="length"),
]


@pytest.mark.parametrize("completion", CASES)
def test_round_trip(completion: Completion) -> None:
    body = chat_completion_json(completion, created=7)
    choice = body["choices"][0]
    text, reasoning, calls = parse_message(choice["message"])
    assert (text, reasoning, calls) == (completion.text, completion.reasoning,
                                        completion.tool_calls)
    assert finish_reason(choice["finish_reason"]) == completion.finish_reason
    assert parse_usage(body.get("usage")) == completion.usage
    assert body["object"] == "chat.completion" and body["created"] == 7


def test_total_tokens_and_model_override() -> None:
    body = chat_completion_json(CASES[0], model="route-a")
    assert body["model"] == "route-a"
    assert body["usage"]["total_tokens"] == 13
