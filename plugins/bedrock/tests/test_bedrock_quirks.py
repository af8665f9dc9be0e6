"""Bedrock specifics against a real fake server: credentials the boto3 way, SigV4 checked
independently, the binary event stream, the Converse body, errors, models and prices."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import subprocess
import sys
import textwrap
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bedrock_fakes import (
    PAD,
    aws_error,
    check_sigv4,
    event,
    exception,
    frame,
    signed,
    split,
    text_stream,
)
from plugbay_bedrock import codec
from plugbay_bedrock.eventstream import EventStreamDecoder, EventStreamError

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

pytestmark = pytest.mark.timeout(30)

AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WORK_AK, WORK_SK, WORK_TOKEN = "AKIAWORKPROFILE00001", "work/secret+key", "IQoJb3JpZ2luX2VjEWORK"
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
CONVERSE = re.compile(r"/model/[^/]+/converse")
STREAM = re.compile(r"/model/[^/]+/converse-stream")


def converse_body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn", "metrics": {"latencyMs": 42},
            "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, **extra}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def aws_files(tmp_path: Path) -> dict[str, str]:
    """Shared config and credentials files with a default and a ``work`` profile."""
    config = tmp_path / "config"
    config.write_text(textwrap.dedent("""\
        [default]
        region = eu-west-3

        [profile work]
        region = us-west-2

        [profile bedrock-role]
        role_arn = arn:aws:iam::123456789012:role/bedrock
        source_profile = work
        region = us-west-2
        """))
    creds = tmp_path / "credentials"
    creds.write_text(textwrap.dedent(f"""\
        [default]
        aws_access_key_id = {AK}
        aws_secret_access_key = {SK}

        [work]
        aws_access_key_id = {WORK_AK}
        aws_secret_access_key = {WORK_SK}
        aws_session_token = {WORK_TOKEN}
        """))
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}


def make(server: FakeServer, env: dict[str, str] | None = None, **options: Any) -> plugbay.Client:
    table = {"base_url": server.url, "control_base_url": server.url, **options}
    return plugbay.Client({"providers": {"bedrock": table}}, env=env or {})


def static(server: FakeServer, **options: Any) -> plugbay.Client:
    return make(server, aws_access_key_id=AK, aws_secret_access_key=SK, region="us-east-1",
                **options)


async def collect(client: plugbay.Client, **kw: Any) -> tuple[list[Any], Any]:
    events = []
    async with client.astream(f"bedrock/{MODEL}", "hi", **kw) as stream:
        async for item in stream:
            events.append(item)
    return events, stream.completion


# ------------------------------------------------------------------ the event stream decoder


def test_decoder_reassembles_frames_split_anywhere() -> None:
    frames = text_stream(["Hel", "lo"])
    data = b"".join(frames)
    for size in (1, 2, 5, 11, 12, 13, 64, len(data)):
        decoder, got = EventStreamDecoder(), []
        for i in range(0, len(data), size):
            got += decoder.feed(data[i:i + size])
        assert [m.event_type for m in got] == ["messageStart", "contentBlockDelta",
                                               "contentBlockDelta", "contentBlockStop",
                                               "messageStop", "metadata"], size
        assert decoder.pending == 0 and decoder.frames == 6


def test_decoder_reads_every_header_type() -> None:
    ident = uuid.uuid4()
    headers = {"t": True, "f": False, "b": (2, -7), "s": (3, 300), "i": (4, -70000),
               "l": (5, 2**40), "raw": b"\x00\x01", "str": "caf\u00e9", "ts": (8, 1700000000000),
               "id": ident}
    (message,) = EventStreamDecoder().feed(frame(headers, b"{}"))
    assert message.headers == {"t": True, "f": False, "b": -7, "s": 300, "i": -70000,
                               "l": 2**40, "raw": b"\x00\x01", "str": "caf\u00e9",
                               "ts": 1700000000000, "id": ident}
    assert message.payload == b"{}"


def test_decoder_agrees_with_botocore() -> None:
    from botocore.eventstream import EventStreamBuffer

    data = b"".join([*text_stream(["a", "b"]), exception("throttlingException", "slow")])
    theirs = EventStreamBuffer()
    theirs.add_data(data)
    ours = EventStreamDecoder().feed(data)
    expected = [(dict(m.headers), m.payload) for m in theirs]
    assert [(m.headers, m.payload) for m in ours] == expected


@pytest.mark.parametrize("where", ["prelude", "message", "length"])
def test_decoder_rejects_corrupt_frames(where: str) -> None:
    data = bytearray(event("messageStart", {"role": "assistant"}))
    if where == "prelude":
        data[9] ^= 0xFF  # the prelude CRC itself
    elif where == "message":
        data[20] ^= 0x01  # a header byte: only the message CRC catches it
    else:
        data[0:4] = (8).to_bytes(4, "big")  # a total length below the minimum
        data[8:12] = zlib.crc32(bytes(data[:8])).to_bytes(4, "big")
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(bytes(data))
    assert issubclass(EventStreamError, errors.StreamError)


# ------------------------------------------------------------------ streams end to end


async def test_stream_split_chunks_padding_usage_and_metrics(server: FakeServer) -> None:
    usage = {"inputTokens": 7, "outputTokens": 4, "totalTokens": 26, "cacheReadInputTokens": 10,
             "cacheWriteInputTokens": 5}
    frames = text_stream(["Hello", ", ", "world"], usage=usage)
    assert PAD[:5].encode() in frames[1]  # the padding field really is on the wire
    server.add("POST", STREAM, signed(Reply.eventstream(split(frames)), {AK: SK},
                                      region="us-east-1"))
    async with static(server) as client:
        events, done = await collect(client)
    texts = [e.text for e in events if e.type == "text"]
    assert texts == ["Hello", ", ", "world"]
    assert done.text == "Hello, world" and done.finish_reason == "stop"
    assert done.usage.input_tokens == 22 and done.usage.cached_input_tokens == 10
    assert done.usage.cache_write_tokens == 5 and done.usage.output_tokens == 4
    assert done.extra["latency_ms"] == 321
    req = server.last
    assert req.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
    assert req.headers["accept"] == "application/vnd.amazon.eventstream"


async def test_stream_reasoning_and_signature_kept(server: FakeServer) -> None:
    frames = [event("messageStart", {"role": "assistant"}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                  "reasoningContent": {"text": "Think"}}}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                  "reasoningContent": {"text": "ing."}}}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                  "reasoningContent": {"signature": "sig-123"}}}),
              event("contentBlockStop", {"contentBlockIndex": 0}),
              event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "42"}}),
              event("messageStop", {"stopReason": "end_turn"}),
              event("metadata", {"usage": {"inputTokens": 1, "outputTokens": 2},
                                 "metrics": {"latencyMs": 5}})]
    server.add("POST", STREAM, Reply.eventstream(frames))
    async with static(server) as client:
        events, done = await collect(client)
    assert [e.text for e in events if e.type == "reasoning"] == ["Think", "ing."]
    assert done.reasoning == "Thinking." and done.text == "42"
    blocks = done.extra["provider_data"]["bedrock_reasoning"]
    assert blocks == [{"reasoningText": {"text": "Thinking.", "signature": "sig-123"}}]


@pytest.mark.parametrize(("kind", "cls"), [
    ("throttlingException", errors.RateLimitError),
    ("serviceUnavailableException", errors.OverloadedError),
    ("validationException", errors.InvalidRequestError),
    ("modelStreamErrorException", errors.StreamError),
    ("internalServerException", errors.ProviderError),
])
async def test_stream_exception_frame_raises_typed_error(server: FakeServer, kind: str,
                                                         cls: type[errors.APIError]) -> None:
    frames = [*text_stream(["partial"])[:2], exception(kind, "it broke")]
    server.add("POST", STREAM, Reply.eventstream(frames, headers={
        "x-amzn-RequestId": "req-stream-1"}))
    async with static(server) as client:
        with pytest.raises(cls) as caught:
            await collect(client)
    assert caught.value.provider == "bedrock" and caught.value.message == "it broke"
    assert caught.value.request_id == "req-stream-1"
    assert caught.value.code == kind[0].upper() + kind[1:]


async def test_stream_corrupt_crc_raises(server: FakeServer) -> None:
    frames = text_stream(["ok", "then broken"])
    bad = bytearray(frames[2])
    bad[-1] ^= 0xFF
    frames[2] = bytes(bad)
    server.add("POST", STREAM, Reply.eventstream(frames))
    async with static(server) as client:
        with pytest.raises(errors.StreamError, match="CRC"):
            await collect(client)


@pytest.mark.parametrize("keep", [5, 4, 3], ids=["no-metadata", "no-messageStop", "mid"])
async def test_stream_cut_before_terminal_events_raises(server: FakeServer, keep: int) -> None:
    frames = text_stream(["a", "b"])[:keep]
    server.add("POST", STREAM, Reply.eventstream(frames))
    async with static(server) as client:
        with pytest.raises(errors.StreamError, match="ended before"):
            await collect(client)


async def test_stream_cut_inside_a_frame_raises(server: FakeServer) -> None:
    data = b"".join(text_stream(["a"]))
    server.add("POST", STREAM, Reply.chunks([data[:-10]],
                                            content_type="application/vnd.amazon.eventstream"))
    async with static(server) as client:
        with pytest.raises(errors.StreamError, match="partial frame"):
            await collect(client)


# ------------------------------------------------------------------ credentials and SigV4


async def test_wrong_secret_is_rejected_by_the_signature_check(server: FakeServer) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body()), {AK: SK},
                                        region="us-east-1"))
    async with make(server, aws_access_key_id=AK, aws_secret_access_key="not-the-secret",
                    region="us-east-1") as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert caught.value.status == 403 and caught.value.code == "InvalidSignatureException"
    assert "not-the-secret" not in str(caught.value) + repr(caught.value.body)
    async with static(server) as client:  # the right secret passes the same check
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "hi"


async def test_tampered_body_fails_the_check(server: FakeServer) -> None:
    # The checker really covers the payload: a signed request with another body fails.
    server.add("POST", CONVERSE, Reply.json(converse_body()))
    async with static(server) as client:
        await client.acomplete(f"bedrock/{MODEL}", "hi")
    req = server.last
    assert check_sigv4(req, {AK: SK}, region="us-east-1") is None
    forged = RecordedRequest(req.method, req.url, req.path, req.query, req.headers,
                             req.body.replace(b"hi", b"yo"))
    assert "does not match" in (check_sigv4(forged, {AK: SK}, region="us-east-1") or "")


async def test_profile_from_env_files_and_region_from_profile(
        server: FakeServer, aws_files: dict[str, str]) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("from work")),
                                        {WORK_AK: WORK_SK}, region="us-west-2",
                                        token=WORK_TOKEN))
    env = {**aws_files, "AWS_PROFILE": "work"}
    async with make(server, env) as client:
        result = await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert result.text == "from work"
    assert "/us-west-2/bedrock/aws4_request" in server.last.headers["authorization"]


async def test_profile_option_and_default_profile(server: FakeServer,
                                                  aws_files: dict[str, str]) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("w")), {WORK_AK: WORK_SK},
                                        region="us-west-2", token=WORK_TOKEN))
    async with make(server, aws_files, profile="work") as client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "w"
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("d")), {AK: SK},
                                        region="eu-west-3"))
    async with make(server, aws_files) as client:  # no profile: [default] and its region
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "d"


async def test_env_keys_win_over_files_and_region_env(server: FakeServer,
                                                      aws_files: dict[str, str]) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("env")),
                                        {"AKIAFROMENVIRONMENT1": "env-secret"},
                                        region="ap-south-1", token="env-token"))
    env = {**aws_files, "AWS_PROFILE": "work", "AWS_ACCESS_KEY_ID": "AKIAFROMENVIRONMENT1",
           "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
           "AWS_REGION": "ap-south-1"}
    async with make(server, env) as client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "env"


async def test_process_environment_is_used_too(server: FakeServer, aws_files: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {**aws_files, "AWS_PROFILE": "work"}.items():
        monkeypatch.setenv(k, v)
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("os")), {WORK_AK: WORK_SK},
                                        region="us-west-2", token=WORK_TOKEN))
    client = plugbay.Client({"providers": {"bedrock": {"base_url": server.url}}})
    async with client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "os"


def _sts_reply(key: str, secret: str, token: str, expires: dt.datetime) -> Reply:
    xml = f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration></Credentials>
    <AssumedRoleUser><AssumedRoleId>AROAFAKE:plugbay</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/bedrock/plugbay</Arn></AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""
    return Reply.text(xml, "text/xml")


async def test_role_assumption_and_refresh_when_expiring(
        server: FakeServer, aws_files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)  # botocore's own STS client
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)  # inside the refresh window
    sts = server.add("POST", "/", signed(_sts_reply("ASIAROLEFIRST0000001", "first-secret",
                                                    "first-token", soon),
                                         {WORK_AK: WORK_SK}, region="us-west-2", service="sts"),
                     signed(_sts_reply("ASIAROLESECOND000002", "second-secret", "second-token",
                                       soon + dt.timedelta(hours=2)),
                            {WORK_AK: WORK_SK}, region="us-west-2", service="sts"))
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("role")),
                                        {"ASIAROLEFIRST0000001": "first-secret",
                                         "ASIAROLESECOND000002": "second-secret"},
                                        region="us-west-2"))
    async with make(server, {**aws_files, "AWS_PROFILE": "bedrock-role"}) as client:
        for _ in range(3):
            assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "role"
    calls = [r for r in server.requests if CONVERSE.fullmatch(r.path)]
    keys = [r.headers["authorization"].split("Credential=")[1][:20] for r in calls]
    # The first credentials expire within botocore's refresh window, so they are replaced
    # before the first signature; the fresh ones are then reused.
    assert keys == ["ASIAROLESECOND000002"] * 3
    assert sts.hits == 2
    assert calls[-1].headers["x-amz-security-token"] == "second-token"


async def test_bearer_token_from_env_and_option(server: FakeServer) -> None:
    server.add("POST", CONVERSE, Reply.json(converse_body("bearer")))
    env = {"AWS_BEARER_TOKEN_BEDROCK": "ABSKbedrockapikey123", "AWS_REGION": "us-east-1"}
    async with make(server, env) as client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "bearer"
    req = server.last
    assert req.headers["authorization"] == "Bearer ABSKbedrockapikey123"
    assert "x-amz-date" not in req.headers
    async with make(server, {}, api_key="ABSKoption", region="us-east-1") as client:
        await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert server.last.headers["authorization"] == "Bearer ABSKoption"
    server.add("POST", CONVERSE, aws_error("UnrecognizedClientException", "bad key", 403))
    async with make(server, env) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert "ABSKbedrockapikey123" not in str(caught.value)


async def test_no_credentials_is_a_missing_key_error_and_health_down(server: FakeServer) -> None:
    async with make(server, {}, region="us-east-1") as client:
        with pytest.raises(errors.MissingAPIKeyError, match="AWS_BEARER_TOKEN_BEDROCK"):
            await client.acomplete(f"bedrock/{MODEL}", "hi")
        (health,) = await client.ahealth("bedrock")
    assert health.status == "down"
    assert server.requests == []


def test_no_boto_at_import_and_none_in_bearer_mode(server: FakeServer) -> None:
    server.add("POST", CONVERSE, Reply.json(converse_body("lazy")))
    code = textwrap.dedent(f"""
        import sys, plugbay, plugbay_bedrock
        assert not [m for m in sys.modules if m.startswith(("boto", "botocore"))]
        c = plugbay.Client({{"providers": {{"bedrock": {{"base_url": "{server.url}",
            "api_key": "ABSKtoken", "region": "us-east-1"}}}}}}, env={{}})
        print(c.complete("bedrock/{MODEL}", "hi").text)
        print(sorted({{m.split(".")[0] for m in sys.modules if "boto" in m}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split("\n")
    assert out[:2] == ["lazy", "[]"]
    timing = subprocess.run([sys.executable, "-X", "importtime", "-c", "import plugbay"],
                            capture_output=True, text=True, timeout=60, check=True).stderr
    assert "boto" not in timing


# ------------------------------------------------------------------ the Converse body


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


# ------------------------------------------------------------------ errors


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


async def test_stream_http_error_before_the_stream(server: FakeServer) -> None:
    server.add("POST", STREAM, aws_error("ThrottlingException", "slow down", 429))
    async with static(server) as client:
        with pytest.raises(errors.RateLimitError):
            await collect(client)


# ------------------------------------------------------------------ models, prices, health


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


def test_sync_client_streams(server: FakeServer) -> None:
    server.add("POST", STREAM, Reply.eventstream(split(text_stream(["x", "y"]), (5,))))
    with static(server) as client, client.stream(f"bedrock/{MODEL}", "hi") as stream:
        assert "".join(e.text for e in stream if e.type == "text") == "xy"


async def test_concurrent_first_calls_resolve_credentials_once(
        server: FakeServer, aws_files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    sts = server.add("POST", "/", signed(_sts_reply("ASIAROLEONLY00000001", "only-secret",
                                                    "only-token", later),
                                         {WORK_AK: WORK_SK}, region="us-west-2", service="sts"))
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("one")),
                                        {"ASIAROLEONLY00000001": "only-secret"},
                                        region="us-west-2", token="only-token"))
    async with make(server, aws_files, profile="bedrock-role") as client:
        results = await asyncio.gather(*[client.acomplete(f"bedrock/{MODEL}", "hi")
                                         for _ in range(8)])
    assert [r.text for r in results] == ["one"] * 8
    assert sts.hits == 1


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


async def test_no_region_anywhere_is_a_config_error(server: FakeServer) -> None:
    client = plugbay.Client({"providers": {"bedrock": {
        "aws_access_key_id": AK, "aws_secret_access_key": SK}}}, env={})
    async with client:
        with pytest.raises(errors.ConfigError, match="no AWS region"):
            await client.acomplete(f"bedrock/{MODEL}", "hi")
        (health,) = await client.ahealth("bedrock")
    assert health.status == "down"
