"""The binary event stream: the decoder alone, then ConverseStream end to end over real
sockets (chunks split anywhere, padding, exception frames, corrupt and cut streams)."""

from __future__ import annotations

import uuid
import zlib

import pytest
from bedrock_fakes import (
    AK,
    MODEL,
    PAD,
    SK,
    STREAM,
    aws_error,
    collect,
    event,
    exception,
    frame,
    signed,
    split,
    static,
    text_stream,
)
from plugbay_bedrock.eventstream import EventStreamDecoder, EventStreamError

from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(30)


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


async def test_stream_http_error_before_the_stream(server: FakeServer) -> None:
    server.add("POST", STREAM, aws_error("ThrottlingException", "slow down", 429))
    async with static(server) as client:
        with pytest.raises(errors.RateLimitError):
            await collect(client)


def test_sync_client_streams(server: FakeServer) -> None:
    server.add("POST", STREAM, Reply.eventstream(split(text_stream(["x", "y"]), (5,))))
    with static(server) as client, client.stream(f"bedrock/{MODEL}", "hi") as stream:
        assert "".join(e.text for e in stream if e.type == "text") == "xy"
