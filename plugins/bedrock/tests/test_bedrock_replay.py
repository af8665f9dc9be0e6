"""Check the plugin against botocore's service model of bedrock-runtime, read in place
from ../shared/corpus (skipped when the corpus is absent), and decode any recorded
event stream test vectors the corpus holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plugbay_bedrock import codec
from plugbay_bedrock.eventstream import EventStreamDecoder, EventStreamError

from plugbay import errors
from plugbay.types import Message, Request, Tool

pytestmark = pytest.mark.replay

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "bedrock"
MODEL_FILE = CORPUS / "boto+botocore" / "service-2.json"


@pytest.fixture(scope="module")
def service() -> dict[str, Any]:
    if not MODEL_FILE.is_file():
        pytest.skip(f"corpus file absent: {MODEL_FILE}")
    data: dict[str, Any] = json.loads(MODEL_FILE.read_text("utf-8"))
    return data


def test_signing_metadata(service: dict[str, Any]) -> None:
    meta = service["metadata"]
    assert meta["signingName"] == "bedrock" and meta["protocol"] == "rest-json"
    assert "smithy.api#httpBearerAuth" in meta.get("auth", [])


def test_paths(service: dict[str, Any]) -> None:
    ops = service["operations"]
    assert ops["Converse"]["http"]["requestUri"] == "/model/{modelId}/converse"
    assert ops["ConverseStream"]["http"]["requestUri"] == "/model/{modelId}/converse-stream"


@pytest.mark.parametrize("op", ["Converse", "ConverseStream"])
def test_every_declared_error_maps_to_its_class(service: dict[str, Any], op: str) -> None:
    shapes = service["shapes"]
    for ref in service["operations"][op]["errors"]:
        name = ref["shape"]
        status = shapes[name]["error"]["httpStatusCode"]
        cls = codec.error_class(name, status, "message")
        assert cls is not errors.APIError, name
        # Every declared error has an explicit entry, not the status fallback.
        assert name in codec._BY_TYPE or name == "ValidationException", name


def test_stream_exception_members_are_typed(service: dict[str, Any]) -> None:
    shapes = service["shapes"]
    members = shapes["ConverseStreamOutput"]["members"]
    for member, ref in members.items():
        if shapes[ref["shape"]].get("exception"):
            etype = codec.error_type(member)
            assert etype == ref["shape"], member  # lower camel in frames -> shape name
            assert codec.error_class(etype, 500, "x") is not errors.InvalidRequestError or \
                etype == "ValidationException"


def test_stop_reasons_all_mapped(service: dict[str, Any]) -> None:
    for reason in service["shapes"]["StopReason"]["enum"]:
        assert reason in codec.FINISH, reason


def test_request_body_uses_only_modelled_members(service: dict[str, Any]) -> None:
    shapes = service["shapes"]
    request = Request(model="m", messages=[Message.system("s"), Message.user("u")],
                      max_tokens=5, temperature=0.1, top_p=0.5, stop=["x"],
                      tools=[Tool(name="t", description="d")], tool_choice="required",
                      metadata={"k": "v"})
    body = codec.build_body(request)
    assert set(body) <= set(shapes["ConverseRequest"]["members"])
    assert set(body["inferenceConfig"]) <= set(shapes["InferenceConfiguration"]["members"])
    assert set(body["toolConfig"]["toolChoice"]) <= set(shapes["ToolChoice"]["members"])
    spec = body["toolConfig"]["tools"][0]["toolSpec"]
    assert set(spec) <= set(shapes["ToolSpecification"]["members"])
    assert set(codec.IMAGE_FORMATS.values()) <= set(shapes["ImageFormat"]["enum"])


def test_usage_fields_exist(service: dict[str, Any]) -> None:
    members = service["shapes"]["TokenUsage"]["members"]
    for field in ("inputTokens", "outputTokens", "cacheReadInputTokens",
                  "cacheWriteInputTokens"):
        assert field in members


def _vectors() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and (
        p.name.startswith(("eventstream", "test_eventstream"))
        or p.suffix in (".eventstream", ".bin")))


def test_recorded_eventstream_vectors_decode() -> None:
    vectors = _vectors()
    if not vectors:
        pytest.skip("no recorded event stream vectors in the corpus")
    for path in vectors:
        data = path.read_bytes()
        decoder = EventStreamDecoder()
        if "corrupt" in path.name or "negative" in str(path):
            with pytest.raises(EventStreamError):
                decoder.feed(data)
        else:
            assert decoder.feed(data), path
