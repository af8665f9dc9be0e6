"""The standard conformance suite against a fake Bedrock that checks SigV4 signatures."""

from __future__ import annotations

import json
import re
from typing import Any

import bedrock_fakes
from bedrock_fakes import aws_error, check_sigv4, event, signed, text_stream

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import Wire

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
REGION = "us-east-1"
CONVERSE = re.compile(r"/model/[^/]+/converse")
STREAM = re.compile(r"/model/[^/]+/converse-stream")
ERRORS = {
    "auth": ("UnrecognizedClientException",
             "The security token included in the request is invalid.", 403),
    "not_found": ("ResourceNotFoundException", "Model not found.", 404),
    "rate_limit": ("ThrottlingException", "Too many requests, please wait before trying again.",
                   429),
    "server": ("InternalServerException", "An internal server error occurred.", 500),
    "overloaded": ("ServiceUnavailableException", "The service is unavailable.", 503),
}


class BedrockWire(Wire):
    """Converse / ConverseStream as Bedrock speaks them, behind a SigV4 check."""

    secret = ""

    def keys(self) -> dict[str, str]:
        return {ACCESS_KEY: self.secret}

    def guard(self, reply: Reply) -> Any:
        return signed(reply, self.keys(), region=REGION)

    @staticmethod
    def usage(usage: dict[str, int]) -> dict[str, int]:
        cached = usage.get("cached", 0)  # Bedrock counts cache reads apart from inputTokens
        return {"inputTokens": usage["input"] - cached, "outputTokens": usage["output"],
                "totalTokens": usage["input"] + usage["output"],
                "cacheReadInputTokens": cached, "cacheWriteInputTokens": 0}

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        body = {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "end_turn", "usage": self.usage(usage),
                "metrics": {"latencyMs": 250}}
        server.add("POST", CONVERSE, self.guard(Reply.json(
            body, headers={"x-amzn-RequestId": "req-conformance"})))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        server.add("POST", STREAM, self.guard(Reply.eventstream(
            text_stream(pieces, usage=self.usage(usage)))))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        usage = {"inputTokens": 20, "outputTokens": 10, "totalTokens": 30}
        if not stream:
            body = {"output": {"message": {"role": "assistant", "content": [
                {"text": "Let me check."},
                {"toolUse": {"toolUseId": "tooluse_abc123", "name": name, "input": arguments}}]}},
                "stopReason": "tool_use", "usage": usage, "metrics": {"latencyMs": 10}}
            server.add("POST", CONVERSE, self.guard(Reply.json(body)))
            return
        args = json.dumps(arguments)
        half = len(args) // 2
        frames = [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockStart", {"contentBlockIndex": 0, "start": {
                "toolUse": {"toolUseId": "tooluse_abc123", "name": name}}}),
            event("contentBlockDelta", {"contentBlockIndex": 0,
                                        "delta": {"toolUse": {"input": args[:half]}}}),
            event("contentBlockDelta", {"contentBlockIndex": 0,
                                        "delta": {"toolUse": {"input": args[half:]}}}),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            event("messageStop", {"stopReason": "tool_use"}),
            event("metadata", {"usage": usage, "metrics": {"latencyMs": 10}}),
        ]
        server.add("POST", STREAM, self.guard(Reply.eventstream(frames)))

    def script_stream_frame(self, server: FakeServer, *, model: str, frame: bytes) -> None:
        delta = bedrock_fakes.frame({":event-type": "contentBlockDelta", ":message-type": "event",
                                     ":content-type": "application/json"}, frame)
        server.add("POST", STREAM, self.guard(Reply.eventstream([delta])))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        reply = aws_error(*ERRORS[kind])
        server.add("POST", CONVERSE, self.guard(reply))
        server.add("POST", STREAM, self.guard(reply))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        summaries = [{"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{i}",
                      "modelId": i, "modelName": i, "providerName": "Fake",
                      "inputModalities": ["TEXT", "IMAGE"], "outputModalities": ["TEXT"],
                      "responseStreamingSupported": True,
                      "inferenceTypesSupported": ["ON_DEMAND"],
                      "modelLifecycle": {"status": "ACTIVE"}} for i in ids]
        profiles = [{"inferenceProfileId": f"us.{i}", "inferenceProfileName": f"US {i}",
                     "inferenceProfileArn": f"arn:aws:bedrock:{REGION}:123456789012:"
                                            f"inference-profile/us.{i}",
                     "models": [], "status": "ACTIVE", "type": "SYSTEM_DEFINED"} for i in ids]
        server.add("GET", "/foundation-models", self.guard(Reply.json({"modelSummaries":
                                                                          summaries})))
        server.add("GET", "/inference-profiles", self.guard(Reply.json(
            {"inferenceProfileSummaries": profiles})))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        """A valid SigV4 signature made with ``secret``, recomputed here independently."""
        return check_sigv4(request, {ACCESS_KEY: secret}, region=REGION) is None


class TestBedrockConformance(ProviderConformance):
    provider = "bedrock"
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    wire = BedrockWire()
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        self.wire.secret = self.secret  # type: ignore[attr-defined]
        return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": self.secret,
                "region": REGION, "base_url": server.url, "control_base_url": server.url}
