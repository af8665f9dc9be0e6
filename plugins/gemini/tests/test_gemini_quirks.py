"""Gemini-specific behaviour against a FakeServer on real sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from plugbay_gemini import codec, streaming

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.types import ImagePart, Message, ResponseFormat, Tool, ToolChoice

pytestmark = pytest.mark.timeout(30)

KEY = "AIzaQuirksKey00000000000000000"
GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


def answer(parts: list[dict[str, Any]], finish: str | None = "STOP",
           usage: dict[str, int] | None = None, rid: str = "r1") -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "responseId": rid, "modelVersion": "gemini-2.5-flash",
            "usageMetadata": usage or {"promptTokenCount": 4, "candidatesTokenCount": 2}}


def rpc(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status,
                      "details": list(details)}}


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    c = plugbay.Client({"providers": {"gemini": {
        "api_key": KEY, "base_url": fake_server.url + "/v1beta"}},
        "routing": {"retries": 0}}, env={})  # one request per scripted reply
    async with c:
        yield c


async def test_request_body(fake_server: FakeServer, client: plugbay.Client) -> None:
    fake_server.add("POST", GEN, Reply.json(answer([{"text": "ok"}])))
    messages = [Message.system("Be brief."), Message.user("hi"),
                Message.user(ImagePart(data="AAAA", media_type="image/jpeg"),
                             ImagePart(url="data:image/webp;base64,BBBB"),
                             ImagePart(url="https://x.test/a.png"))]
    fmt = ResponseFormat(schema={"type": "object", "additionalProperties": False})
    await client.acomplete("gemini/gemini-2.5-flash", messages, max_tokens=50, temperature=0.2,
                           top_p=0.9, stop=["END"], seed=7, response_format=fmt,
                           tools=[Tool(name="f", description="d", parameters={"type": "object"})],
                           tool_choice=ToolChoice(name="f"),
                           generationConfig={"topK": 3})
    req = fake_server.last
    assert req.headers["x-goog-api-key"] == KEY and not req.query
    body = req.json()
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in body["contents"]] == ["user"]  # consecutive user turns merged
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "hi"}
    assert parts[1] == {"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}}
    assert parts[2] == {"inlineData": {"mimeType": "image/webp", "data": "BBBB"}}
    assert parts[3]["fileData"]["fileUri"] == "https://x.test/a.png"
    assert body["generationConfig"] == {
        "maxOutputTokens": 50, "temperature": 0.2, "topP": 0.9, "seed": 7,
        "stopSequences": ["END"], "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object", "additionalProperties": False}, "topK": 3}
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "f", "description": "d", "parametersJsonSchema": {"type": "object"}}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY",
                                                            "allowedFunctionNames": ["f"]}}


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("required", "ANY"),
                                              ("none", "NONE")])
def test_tool_choice_modes(choice: str, mode: str) -> None:
    req = plugbay.Request(model="m", messages=[Message.user("x")], tool_choice=choice)
    assert codec.build_body(req)["toolConfig"]["functionCallingConfig"] == {"mode": mode}


def test_openapi_schema_fields_and_json_mode() -> None:
    req = plugbay.Request(model="m", messages=[Message.user("x")],
                          tools=[Tool(name="f")], response_format=ResponseFormat(
                              schema={"type": "object"}))
    body = codec.build_body(req, json_schema_fields=False)
    assert "parameters" in body["tools"][0]["functionDeclarations"][0]
    assert body["generationConfig"]["responseSchema"] == {"type": "object"}
    plain = codec.build_body(plugbay.Request(model="m", messages=[Message.user("x")],
                                             response_format=ResponseFormat(type="json_object")))
    assert plain["generationConfig"] == {"responseMimeType": "application/json"}


@pytest.mark.parametrize(("model", "effort", "config"), [
    ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
    ("gemini-3.5-flash", "medium", {"thinkingLevel": "medium", "includeThoughts": True}),
    ("gemini-3.1-pro-preview", "minimal", {"thinkingLevel": "low", "includeThoughts": True}),
    ("gemini-3.1-pro-preview", "medium", {"thinkingLevel": "high", "includeThoughts": True})])
def test_reasoning_effort_to_thinking_config(model: str, effort: str,
                                             config: dict[str, Any]) -> None:
    req = plugbay.Request(model=model, messages=[Message.user("x")], reasoning_effort=effort)
    assert codec.build_body(req)["generationConfig"]["thinkingConfig"] == config


async def test_thoughts_signatures_and_function_round_trip(fake_server: FakeServer,
                                                           client: plugbay.Client) -> None:
    parts = [{"text": "Thinking about it.", "thought": True},
             {"functionCall": {"name": "lookup", "args": {"q": "x"}}, "thoughtSignature": "SIG"},
             {"functionCall": {"name": "other", "args": {}}}]
    usage = {"promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": 10,
             "thoughtsTokenCount": 30, "toolUsePromptTokenCount": 5}
    fake_server.add("POST", GEN, Reply.json(answer(parts, usage=usage)),
                    Reply.json(answer([{"text": "done"}])))
    first = await client.acomplete("gemini/gemini-2.5-flash", "q")
    assert first.reasoning == "Thinking about it." and first.text == ""
    assert first.finish_reason == "tool_calls" and first.raw_finish_reason == "STOP"
    assert [c.name for c in first.tool_calls] == ["lookup", "other"]
    assert first.tool_calls[0].id == codec.tool_call_id("r1", 0, "lookup")
    assert first.tool_calls[0].id != first.tool_calls[1].id
    assert first.usage == plugbay.Usage(input_tokens=105, output_tokens=40,
                                        cached_input_tokens=60, reasoning_tokens=30)
    assert first.extra["provider_data"]["parts"][1]["thoughtSignature"] == "SIG"
    history = [Message.user("q"), first.message(),
               Message.tool(first.tool_calls[1].id, "plain text"),
               Message.tool(first.tool_calls[0].id, {"hits": 2})]
    await client.acomplete("gemini/gemini-2.5-flash", history)
    contents = fake_server.last.json()["contents"]
    assert contents[1] == {"role": "model", "parts": parts}  # echoed with its signature
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "other", "response": {"output": "plain text"}}},
        {"functionResponse": {"name": "lookup", "response": {"hits": 2}}}]}


async def test_stream_crlf_ends_at_eof(fake_server: FakeServer, client: plugbay.Client) -> None:
    events = [answer([{"text": "Hel"}], None), answer([{"text": "lo"}], "STOP")]
    fake_server.add("POST", STREAM, Reply.sse(events, crlf=True))
    async with client.astream("gemini/gemini-2.5-flash", "q") as s:
        texts = [e.text async for e in s if e.type == "text"]
    assert texts == ["Hel", "lo"] and s.completion is not None
    assert s.completion.finish_reason == "stop"
    assert fake_server.last.query == {"alt": ["sse"]}


async def test_stream_without_finish_reason_is_an_error(fake_server: FakeServer,
                                                        client: plugbay.Client) -> None:
    fake_server.add("POST", STREAM, Reply.sse([answer([{"text": "Hel"}], None)], crlf=True))
    with pytest.raises(errors.StreamError) as caught:
        async with client.astream("gemini/gemini-2.5-flash", "q") as s:
            await s.get_completion()
    assert caught.value.partial == "Hel"


async def test_stream_json_array_framing_and_mid_stream_error(fake_server: FakeServer,
                                                              client: plugbay.Client) -> None:
    one = json.dumps(answer([{"text": "Hé"}], None), indent=2)
    two = json.dumps(answer([{"text": "llo"}], "STOP"), indent=2)
    text = f"[{one}\r\n,\r\n{two}]".encode()
    fake_server.add("POST", STREAM, Reply.chunks([text[:7], text[7:40], text[40:]],
                                                 content_type="application/json"))
    async with client.astream("gemini/gemini-2.5-flash", "q") as s:
        done = await s.get_completion()
    assert done.text == "Héllo" and done.finish_reason == "stop"
    bad = f"[{one}\r\n,\r\n{json.dumps(rpc(503, 'UNAVAILABLE', 'overloaded'))}]"
    fake_server.add("POST", STREAM, Reply.chunks([bad], content_type="application/json"))
    with pytest.raises(errors.OverloadedError):
        async with client.astream("gemini/gemini-2.5-flash", "q") as s:
            await s.get_completion()


async def test_blocked_prompt_and_safety_finish(fake_server: FakeServer,
                                               client: plugbay.Client) -> None:
    refused = {"promptFeedback": {"blockReason": "SAFETY"},
               "usageMetadata": {"promptTokenCount": 3}}
    fake_server.add("POST", GEN, Reply.json(refused))
    with pytest.raises(errors.ContentFilterError) as caught:
        await client.acomplete("gemini/gemini-2.5-flash", "q")
    assert caught.value.provider == "gemini" and caught.value.code == "SAFETY"
    fake_server.add("POST", STREAM, Reply.sse([refused]))
    with pytest.raises(errors.ContentFilterError):
        async with client.astream("gemini/gemini-2.5-flash", "q") as s:
            await s.get_completion()
    fake_server.add("POST", GEN, Reply.json(answer([{"text": "partial"}], "SAFETY")))
    done = await client.acomplete("gemini/gemini-2.5-flash", "q")
    assert (done.finish_reason, done.raw_finish_reason) == ("content_filter", "SAFETY")
    fake_server.add("POST", GEN, Reply.json(answer([{"text": "cut"}], "MAX_TOKENS")))
    assert (await client.acomplete("gemini/gemini-2.5-flash", "q")).finish_reason == "length"


RETRY = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}
BAD_KEY = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}


@pytest.mark.parametrize(("body", "cls", "retryable"), [
    (rpc(429, "RESOURCE_EXHAUSTED", "quota", RETRY), errors.RateLimitError, True),
    (rpc(400, "INVALID_ARGUMENT", "bad field"), errors.InvalidRequestError, False),
    (rpc(400, "INVALID_ARGUMENT", "API key not valid.", BAD_KEY), errors.AuthenticationError,
     False),
    (rpc(400, "INVALID_ARGUMENT", "The input token count (2000000) exceeds the maximum number "
         "of tokens allowed (1048576)."), errors.ContextLengthError, False),
    (rpc(403, "PERMISSION_DENIED", "denied"), errors.PermissionDeniedError, False),
    (rpc(404, "NOT_FOUND", "models/x is not found"), errors.ModelNotFoundError, False),
    (rpc(500, "INTERNAL", "oops"), errors.ProviderError, True),
    (rpc(503, "UNAVAILABLE", "The model is overloaded."), errors.OverloadedError, True),
    (rpc(504, "DEADLINE_EXCEEDED", "slow"), errors.TimeoutError, True),
])
async def test_error_mapping(fake_server: FakeServer, client: plugbay.Client,
                             body: dict[str, Any], cls: type[errors.APIError],
                             retryable: bool) -> None:
    status = body["error"]["code"]
    fake_server.add("POST", GEN, Reply.json(body, status=status))
    with pytest.raises(errors.APIError) as caught:
        await client.acomplete("gemini/gemini-2.5-flash", "q")
    exc = caught.value
    assert type(exc) is cls and exc.retryable is retryable and exc.status == status
    assert exc.code == body["error"]["status"]
    if status == 429:
        assert exc.retry_after == pytest.approx(34.4)
    assert KEY not in str(exc) + repr(exc.body)


async def test_models_follow_page_tokens(fake_server: FakeServer,
                                         client: plugbay.Client) -> None:
    def page(names: list[str], token: str | None) -> Reply:
        models = [{"name": f"models/{n}", "supportedGenerationMethods": ["generateContent"],
                   "inputTokenLimit": 1000, "outputTokenLimit": 100} for n in names]
        return Reply.json({"models": models, **({"nextPageToken": token} if token else {})})

    route = fake_server.add("GET", "/v1beta/models", page(["a-1"], "t1"), page(["b-1"], "t2"),
                            page(["c-1", "a-1"], None))
    ids = [m.id for m in await client.amodels("gemini")]
    assert route.hits == 3
    assert [r.query.get("pageToken") for r in route.requests] == [None, ["t1"], ["t2"]]
    assert ids[:3] == ["a-1", "b-1", "c-1"] and len(ids) == len(set(ids))
    assert "gemini-2.5-pro" in ids  # from the price table


async def test_health_probe_and_env_keys(fake_server: FakeServer) -> None:
    route = fake_server.add("GET", "/v1beta/models", Reply.json({"models": []}))
    for env in ({"GEMINI_API_KEY": "AIzaEnvOne0000000000000000"},
                {"GOOGLE_API_KEY": "AIzaEnvTwo0000000000000000"}):
        c = plugbay.Client({"providers": {"gemini": {"base_url": fake_server.url + "/v1beta"}}},
                           env=env)
        async with c:
            assert [h.status for h in await c.ahealth("gemini")] == ["ok"]
        assert route.requests[-1].headers["x-goog-api-key"] == next(iter(env.values()))
        assert route.requests[-1].query["pageSize"] == ["1"]
    c = plugbay.Client({"providers": {"gemini": {"base_url": fake_server.url}}}, env={})
    async with c:
        with pytest.raises(errors.MissingAPIKeyError, match="GEMINI_API_KEY"):
            await c.acomplete("gemini/gemini-2.5-flash", "q")


def test_stable_ids_for_the_same_answer() -> None:
    data = answer([{"functionCall": {"name": "f", "args": {}}}], rid="abc")
    first, second = codec.parse_response(data), codec.parse_response(data)
    assert first.tool_calls[0].id == second.tool_calls[0].id
    state = streaming.StreamState()
    events = state.feed(data)
    assert events[0].id == first.tool_calls[0].id  # type: ignore[union-attr]
    given = answer([{"functionCall": {"name": "f", "args": {}, "id": "server-id"}}])
    assert codec.parse_response(given).tool_calls[0].id == "server-id"


async def test_stream_codec_runs_without_http() -> None:
    """The pure stream codec, as the Vertex AI plugin drives it: bytes in, events out."""
    raw = ("data: " + json.dumps(answer([{"text": "a"}], None)) + "\r\n\r\n"
           + "data: " + json.dumps(answer([{"text": "b"}])) + "\r\n\r\n").encode()

    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        for i in range(0, len(data), 5):
            yield data[i:i + 5]

    events = [e async for e in streaming.aiter_events(chunks(raw))]
    assert [e.type for e in events] == ["text", "text", "usage", "finish"]
    array = ("[" + json.dumps(answer([{"text": "x"}])) + "]").encode()
    events = [e async for e in streaming.aiter_events(chunks(array), json_array=True)]
    assert [e.type for e in events] == ["text", "usage", "finish"]
    with pytest.raises(errors.StreamError):  # cut inside the array's only object
        _ = [e async for e in streaming.aiter_events(chunks(array[:-20]), json_array=True)]
    error = json.dumps(rpc(429, "RESOURCE_EXHAUSTED", "quota", RETRY)).encode()
    with pytest.raises(errors.RateLimitError) as caught:
        _ = [e async for e in streaming.aiter_events(chunks(b"data: " + error + b"\n\n"))]
    assert caught.value.retry_after == pytest.approx(34.4) and caught.value.status == 429
