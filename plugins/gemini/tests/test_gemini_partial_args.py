"""Streamed function-call arguments (``streamFunctionCallArguments``): a call arrives as a
part with its ``name`` and ``willContinue``, then parts carrying only ``partialArgs``
(``jsonPath`` + one typed value, a string possibly split over several fragments with
``willContinue``), then an empty ``functionCall`` that ends it.

No recording of this mode exists in ../shared/corpus; the stream below follows the
documented ``FunctionCall`` / ``PartialArg`` fields, on a real fake-server socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import plugbay
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import Message, Tool

pytestmark = pytest.mark.timeout(30)

STREAM = "/v1beta/models/gemini-3-pro-preview:streamGenerateContent"
NOTE = "Take the early ferry, then walk along the bay; lunch is booked at noon. " * 3
TRIP = {"city": "San Francisco", "days": 3, "flexible": True, "budget": None,
        "stops": [{"name": "Pier 39", "minutes": 30}, {"name": "Golden Gate", "minutes": 90}],
        "odd key": {"x.y": "dots"}, "note": NOTE}


def chunk(*parts: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        cand["finishReason"] = finish
        return {"candidates": [cand], "responseId": "r-partial",
                "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 90}}
    return {"candidates": [cand], "responseId": "r-partial"}


def fragments(*args: dict[str, Any]) -> dict[str, Any]:
    return {"functionCall": {"partialArgs": list(args), "willContinue": True}}


def streamed_calls() -> list[dict[str, Any]]:
    pieces = [NOTE[i:i + 4] for i in range(0, len(NOTE), 4)]  # ~55 fragments of one string
    note = [fragments({"jsonPath": "$.note", "stringValue": p, "willContinue": True})
            for p in pieces[:-1]]
    note.append(fragments({"jsonPath": "$.note", "stringValue": pieces[-1]}))
    return [
        chunk({"text": "Planning."}),
        chunk({"functionCall": {"name": "plan_trip", "willContinue": True},
               "thoughtSignature": "c2lnLXBsYW4="}),
        chunk(fragments({"jsonPath": "$.city", "stringValue": "San ", "willContinue": True})),
        chunk(fragments({"jsonPath": "$.city", "stringValue": "Francisco"},
                        {"jsonPath": "$.days", "numberValue": 3})),
        chunk(fragments({"jsonPath": "$.flexible", "boolValue": True},
                        {"jsonPath": "$.budget", "nullValue": "NULL_VALUE"})),
        chunk(fragments({"jsonPath": "$.stops[0].name", "stringValue": "Pier 39"},
                        {"jsonPath": "$.stops[0].minutes", "numberValue": 30})),
        chunk(fragments({"jsonPath": "$.stops[1].name", "stringValue": "Golden ",
                         "willContinue": True})),
        chunk(fragments({"jsonPath": "$.stops[1].name", "stringValue": "Gate"},
                        {"jsonPath": "$.stops[1].minutes", "numberValue": 90},
                        {"jsonPath": "$['odd key']['x.y']", "stringValue": "dots"})),
        *[chunk(part) for part in note],
        chunk({"functionCall": {}}),
        # A second call, whose name repeats on every fragment and whose end is the last
        # fragment saying willContinue false.
        chunk({"functionCall": {"name": "book", "id": "call-b", "willContinue": True,
                                "partialArgs": [{"jsonPath": "$.ref", "stringValue": "AB"}]}}),
        chunk({"functionCall": {"name": "book", "id": "call-b", "willContinue": False,
                                "partialArgs": [{"jsonPath": "$.seats", "numberValue": 2}]}},
              finish="STOP"),
    ]


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"gemini": {"api_key": "AIzaPartialKey0000000000000000",
                                       "base_url": fake_server.url + "/v1beta"}}}
    async with plugbay.Client(config, env={}) as c:
        yield c


async def test_streamed_arguments_assemble_into_one_call_each(
        fake_server: FakeServer, client: plugbay.Client) -> None:
    fake_server.add("POST", STREAM, Reply.sse(streamed_calls(), crlf=True))
    tools = [Tool(name="plan_trip"), Tool(name="book")]
    async with client.astream("gemini/gemini-3-pro-preview", "Plan a trip", tools=tools,
                              tool_choice="required",
                              stream_function_call_arguments=True) as stream:
        events = [e async for e in stream]
    done = stream.completion
    assert done is not None
    assert [(c.name, c.args) for c in done.tool_calls] == [
        ("plan_trip", TRIP), ("book", {"ref": "AB", "seats": 2})]
    assert done.tool_calls[1].id == "call-b" and done.tool_calls[0].id
    assert done.text == "Planning." and done.finish_reason == "tool_calls"
    starts = [e for e in events if e.type == "tool_call" and e.name]
    assert [(e.index, e.name) for e in starts] == [(0, "plan_trip"), (1, "book")]
    assert all(e.type != "tool_call" or e.index in (0, 1) for e in events)

    sent = fake_server.last.json()
    assert sent["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "streamFunctionCallArguments": True}}
    assert "stream_function_call_arguments" not in sent

    # The answer goes back as whole calls with their signature, never as fragments.
    fake_server.add("POST", STREAM, Reply.sse([chunk({"text": "Booked."}, finish="STOP")]))
    history = [Message.user("Plan a trip"), done.message(),
               Message.tool(done.tool_calls[0].id, {"ok": True}, name="plan_trip"),
               Message.tool("call-b", {"ok": True}, name="book")]
    async with client.astream("gemini/gemini-3-pro-preview", history, tools=tools) as again:
        await again.get_completion()
    model_turn = fake_server.last.json()["contents"][1]
    assert model_turn["role"] == "model"
    calls = [p for p in model_turn["parts"] if "functionCall" in p]
    assert [p["functionCall"]["name"] for p in calls] == ["plan_trip", "book"]
    assert calls[0]["functionCall"]["args"] == TRIP
    assert calls[0]["thoughtSignature"] == "c2lnLXBsYW4="
    assert "partialArgs" not in json.dumps(model_turn)


async def test_without_the_option_no_field_is_sent(fake_server: FakeServer,
                                                   client: plugbay.Client) -> None:
    whole = chunk({"functionCall": {"name": "book", "args": {"ref": "AB"}}}, finish="STOP")
    fake_server.add("POST", STREAM, Reply.sse([whole]))
    async with client.astream("gemini/gemini-3-pro-preview", "Book",
                              tools=[Tool(name="book")]) as stream:
        done = await stream.get_completion()
    assert [(c.name, c.args) for c in done.tool_calls] == [("book", {"ref": "AB"})]
    assert "toolConfig" not in fake_server.last.json()


async def test_the_option_is_for_streams_only(fake_server: FakeServer,
                                              client: plugbay.Client) -> None:
    whole = chunk({"functionCall": {"name": "book", "args": {"ref": "AB"}}}, finish="STOP")
    fake_server.add("POST", "/v1beta/models/gemini-3-pro-preview:generateContent",
                    Reply.json(whole))
    done = await client.acomplete("gemini/gemini-3-pro-preview", "Book",
                                  tools=[Tool(name="book")],
                                  stream_function_call_arguments=True)
    assert [(c.name, c.args) for c in done.tool_calls] == [("book", {"ref": "AB"})]
    sent = fake_server.last.json()
    assert "toolConfig" not in sent and "stream_function_call_arguments" not in sent


async def test_fragments_that_do_not_fit_are_malformed(fake_server: FakeServer,
                                                       client: plugbay.Client) -> None:
    fake_server.add("POST", STREAM, Reply.sse([
        chunk({"functionCall": {"name": "f", "willContinue": True}}),
        chunk(fragments({"jsonPath": "$.a", "stringValue": "text"})),
        chunk(fragments({"jsonPath": "$.a[0]", "numberValue": 1})),  # an index into a string
        chunk({"functionCall": {}}, finish="STOP")]))
    with pytest.raises(plugbay.errors.MalformedResponseError) as caught:
        async with client.astream("gemini/gemini-3-pro-preview", "x",
                                  stream_function_call_arguments=True) as stream:
            await stream.get_completion()
    assert caught.value.provider == "gemini" and "streamed arguments of f" in str(caught.value)
