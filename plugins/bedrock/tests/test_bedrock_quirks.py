"""Bedrock specifics against a real fake server: the Converse body, responses, errors,
models, inference profiles, prices and health."""

from __future__ import annotations

import base64
import json

import pytest
from bedrock_fakes import (
    AK,
    CONVERSE,
    MODEL,
    SK,
    aws_error,
    check_sigv4,
    converse_body,
    signed,
    static,
)
from plugbay_bedrock import codec

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(30)


async def test_request_body_shapes(server: FakeServer) -> None:
    server.add("POST", CONVERSE, Reply.json(converse_body()))
    png = b"\x89PNG\r\n\x1a\nfake"
    messages = [
        plugbay.Message.system("Be brief."),
        plugbay.Message.user("Look:", plugbay.ImagePart.from_bytes(png, "image/png")),
        plugbay.Message(role="assistant", content="Calling.", provider_data={
            "bedrock_reasoning": [{"reasoningText": {"text": "hmm", "signature": "s1"}}]},
            tool_calls=[plugbay.ToolCall(id="t1", name="lookup", arguments='{"q": "x"}')]),
        plugbay.Message.tool("t1", {"answer": 1}),
        plugbay.Message.user("Thanks"),
    ]
    tool = plugbay.Tool(name="lookup", description="Look up",
                        parameters={"type": "object", "properties": {"q": {"type": "string"}}})
    async with static(server) as client:
        await client.acomplete(
            "bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x:0", messages,
            max_tokens=99, temperature=0.5, top_p=0.9, stop=["END"], tools=[tool],
            tool_choice=plugbay.ToolChoice(name="lookup"),
            extra={"top_k": 40, "performanceConfig": {"latency": "optimized"}})
    req = server.last
    assert req.path == ("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
                        "inference-profile%2Fus.x%3A0/converse")
    assert check_sigv4(req, {AK: SK}, region="us-east-1") is None
    body = req.json()
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {"maxTokens": 99, "temperature": 0.5, "topP": 0.9,
                                       "stopSequences": ["END"]}
    assert body["additionalModelRequestFields"] == {"top_k": 40}
    assert body["performanceConfig"] == {"latency": "optimized"}
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "lookup"}}
    assert body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["type"] == "object"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user"]  # tool result and next user turn merged
    image = body["messages"][0]["content"][1]["image"]
    assert image == {"format": "png", "source": {"bytes": base64.b64encode(png).decode()}}
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {"reasoningContent": {"reasoningText": {"text": "hmm",
                                                                   "signature": "s1"}}}
    assert assistant[2] == {"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"q": "x"}}}
    assert body["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "t1", "content": [{"json": {"answer": 1}}]}},
        {"text": "Thanks"}]


def test_tool_choice_mapping() -> None:
    tool = plugbay.Tool(name="f")
    base = {"model": "m", "messages": [plugbay.Message.user("x")], "tools": [tool]}
    choice = {c: codec.build_body(plugbay.Request(**base, tool_choice=c)).get("toolConfig")
              for c in ("auto", "required", "none")}
    assert choice["auto"]["toolChoice"] == {"auto": {}}
    assert choice["required"]["toolChoice"] == {"any": {}}
    assert choice["none"] is None
    schema = plugbay.ResponseFormat(schema={"type": "object"})
    body = codec.build_body(plugbay.Request(model="m", messages=[plugbay.Message.user("x")],
                                            response_format=schema, reasoning_effort="high"))
    assert body["outputConfig"]["effort"] == "high"
    assert json.loads(body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"]) \
        == {"type": "object"}


async def test_completion_with_reasoning_and_tool_use(server: FakeServer) -> None:
    content = [{"reasoningContent": {"reasoningText": {"text": "plan", "signature": "sg"}}},
               {"text": "ok"},
               {"toolUse": {"toolUseId": "tu1", "name": "f", "input": {"a": 1}}}]
    server.add("POST", CONVERSE, Reply.json({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "tool_use", "metrics": {"latencyMs": 9},
        "usage": {"inputTokens": 5, "outputTokens": 6, "totalTokens": 11}},
        headers={"x-amzn-RequestId": "rid-9"}))
    async with static(server) as client:
        result = await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert result.reasoning == "plan" and result.text == "ok"
    assert result.tool_calls[0].args == {"a": 1} and result.finish_reason == "tool_calls"
    assert result.id == "rid-9"
    again = result.message()
    assert again.provider_data == {"bedrock_reasoning": [content[0]["reasoningContent"]]}


async def test_requests_converse_cannot_express_are_refused(server: FakeServer) -> None:
    image = plugbay.ImagePart(url="https://example.com/cat.png")
    async with static(server) as client:
        with pytest.raises(errors.InvalidRequestError, match="bytes or s3") as caught:
            await client.acomplete(f"bedrock/{MODEL}", [plugbay.Message.user("see", image)])
        assert caught.value.provider == "bedrock"
        with pytest.raises(errors.InvalidRequestError, match="json_schema"):
            await client.acomplete(f"bedrock/{MODEL}", "hi", response_format=plugbay.ResponseFormat(
                type="json_object"))
    assert server.requests == []


@pytest.mark.parametrize(("etype", "status", "message", "cls", "retryable"), [
    ("ValidationException", 400, "Input is too long for requested model.",
     errors.ContextLengthError, False),
    ("ValidationException", 400, "The model returned the following errors: prompt is too long",
     errors.ContextLengthError, False),
    ("ValidationException", 400, "temperature must be <= 1", errors.InvalidRequestError, False),
    ("ThrottlingException", 429, "Too many tokens", errors.RateLimitError, True),
    ("ModelNotReadyException", 429, "Model is not ready", errors.OverloadedError, True),
    ("ServiceUnavailableException", 503, "Unavailable", errors.OverloadedError, True),
    ("AccessDeniedException", 403, "You don't have access", errors.PermissionDeniedError, False),
    ("ResourceNotFoundException", 404, "Model not found", errors.ModelNotFoundError, False),
    ("ExpiredTokenException", 403, "The security token is expired", errors.AuthenticationError,
     False),
    ("UnrecognizedClientException", 403, "invalid token", errors.AuthenticationError, False),
    ("ModelTimeoutException", 408, "Timed out", errors.TimeoutError, True),
    ("ServiceQuotaExceededException", 400, "Quota", errors.QuotaExceededError, False),
    ("ModelErrorException", 424, "Model failed", errors.ProviderError, True),
])
async def test_error_mapping(server: FakeServer, etype: str, status: int, message: str,
                             cls: type[errors.APIError], retryable: bool) -> None:
    server.add("POST", CONVERSE, aws_error(etype, message, status))
    async with static(server) as client:
        with pytest.raises(errors.APIError) as caught:
            await client.acomplete(f"bedrock/{MODEL}", "hi")
    exc = caught.value
    assert type(exc) is cls, type(exc)
    assert (exc.retryable, exc.status, exc.code, exc.message) == (retryable, status, etype,
                                                                   message)
    assert exc.request_id == "11111111-2222-3333-4444-555555555555"
    assert exc.retry_after is None


async def test_models_and_profiles_listed_with_prices(server: FakeServer) -> None:
    keys = {AK: SK}
    server.add("GET", "/foundation-models", signed(Reply.json({"modelSummaries": [
        {"modelId": "amazon.nova-pro-v1:0", "modelName": "Nova Pro", "providerName": "Amazon",
         "inputModalities": ["TEXT", "IMAGE"], "responseStreamingSupported": True}]}),
        keys, region="us-east-1"))
    pages = [Reply.json({"inferenceProfileSummaries": [{"inferenceProfileId":
                                                        "us.amazon.nova-pro-v1:0"}],
                         "nextToken": "page 2/="}),
             Reply.json({"inferenceProfileSummaries": [{"inferenceProfileId":
                                                        "global.anthropic.claude-haiku-4-5"
                                                        "-20251001-v1:0"}]})]
    profiles = server.add("GET", "/inference-profiles", *[signed(p, keys, region="us-east-1")
                                                          for p in pages])
    async with static(server) as client:
        models = {m.id: m for m in await client.amodels("bedrock")}
        assert models["amazon.nova-pro-v1:0"].supports_vision is True
        assert models["us.amazon.nova-pro-v1:0"].extra["inference_profile"] is True
        assert "global.anthropic.claude-haiku-4-5-20251001-v1:0" in models
        assert profiles.requests[1].query["nextToken"] == ["page 2/="]
        assert client.price("bedrock/us.amazon.nova-pro-v1:0").input == 0.80
        geo = client.price("bedrock/eu.anthropic.claude-haiku-4-5-20251001-v1:0")
        assert geo.input == pytest.approx(1.1) and geo.output == pytest.approx(5.5)
        assert client.price("bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0").input \
            == 1.0
        assert client.price("bedrock/amazon.unknown-v9:0") is None
        (health,) = await client.ahealth("bedrock")
    assert health.status == "ok"
    assert server.last.query == {"byOutputModality": ["TEXT"]}


async def test_profiles_forbidden_still_lists_models(server: FakeServer) -> None:
    server.add("GET", "/foundation-models", Reply.json({"modelSummaries": [
        {"modelId": "meta.llama3-3-70b-instruct-v1:0"}]}))
    server.add("GET", "/inference-profiles", aws_error("AccessDeniedException", "no", 403))
    async with static(server) as client:
        ids = [m.id for m in await client.amodels("bedrock")]
    assert "meta.llama3-3-70b-instruct-v1:0" in ids


async def test_health_degraded_when_throttled(server: FakeServer) -> None:
    server.add("GET", "/foundation-models", aws_error("ThrottlingException", "slow", 429))
    async with static(server) as client:
        (health,) = await client.ahealth("bedrock")
    assert health.status == "degraded"
