"""The Bedrock Converse wire format: request bodies, responses and errors. Pure.

Shapes follow botocore's ``bedrock-runtime/2023-09-30/service-2.json``. The stream
state machine is in :mod:`plugbay_bedrock.streaming`, the framing in
:mod:`plugbay_bedrock.eventstream`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.types import (
    Completion,
    FinishReason,
    ImagePart,
    Message,
    Request,
    TextPart,
    ToolCall,
    ToolChoice,
    Usage,
)

__all__ = ["build_body", "error_class", "error_type", "finish_reason", "parse_usage",
           "to_completion"]

# Top-level ConverseRequest members a caller may set through ``request.extra``; any
# other extra key is a model parameter and goes into ``additionalModelRequestFields``.
TOP_LEVEL = frozenset({"guardrailConfig", "performanceConfig", "serviceTier", "requestMetadata",
                       "promptVariables", "additionalModelResponseFieldPaths", "outputConfig",
                       "additionalModelRequestFields", "toolConfig", "inferenceConfig", "system"})
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                 "image/gif": "gif", "image/webp": "webp"}
FINISH: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
    "malformed_model_output": "error", "malformed_tool_use": "error",
}
_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


# ------------------------------------------------------------------ request


def build_body(request: Request) -> dict[str, Any]:
    """The ConverseRequest body (``modelId`` travels in the path, not here)."""
    body: dict[str, Any] = {"messages": _messages(request.messages)}
    system = [{"text": m.text()} for m in request.messages if m.role == "system" and m.text()]
    if system:
        body["system"] = system
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if config:
        body["inferenceConfig"] = config
    tools = _tool_config(request, body["messages"])
    if tools:
        body["toolConfig"] = tools
    output = _output_config(request)
    if output:
        body["outputConfig"] = output
    if request.metadata:
        body["requestMetadata"] = dict(request.metadata)
    extra_fields: dict[str, Any] = {}
    for key, value in request.extra.items():
        if key not in TOP_LEVEL:
            extra_fields[key] = value
        elif isinstance(value, Mapping) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    if extra_fields:
        body["additionalModelRequestFields"] = {**body.get("additionalModelRequestFields", {}),
                                                **extra_fields}
    return body


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        # Converse wants strictly alternating roles: a tool result and the user's next
        # words (or several tool results) share one user turn.
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"toolResult": {"toolUseId": message.tool_call_id or "",
                                "content": [_tool_result(message.text())]}}]
    blocks: list[dict[str, Any]] = []
    if message.role == "assistant":
        blocks += _reasoning_blocks(message)
    if isinstance(message.content, str):
        if message.content:
            blocks.append({"text": message.content})
    elif message.content:
        for part in message.content:
            if isinstance(part, TextPart):
                if part.text:
                    blocks.append({"text": part.text})
            elif isinstance(part, ImagePart):
                blocks.append({"image": _image(part)})
    for call in message.tool_calls or ():
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name,
                                   "input": _tool_input(call.arguments)}})
    return blocks


def _reasoning_blocks(message: Message) -> list[dict[str, Any]]:
    kept = (message.provider_data or {}).get("bedrock_reasoning")
    if isinstance(kept, list) and kept:
        return [{"reasoningContent": block} for block in kept if isinstance(block, dict)]
    return []  # reasoning without its signature cannot be replayed: the model rejects it


def _tool_result(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return {"json": value} if isinstance(value, dict) else {"text": text}


def _tool_input(arguments: str) -> Any:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        raise errors.InvalidRequestError(f"tool call arguments are not JSON: {arguments[:80]!r}",
                                         ) from None
    return value


def _image(part: ImagePart) -> dict[str, Any]:
    media, data = part.media_type, part.data
    if data is None and part.url and part.url.startswith("data:"):
        head, _, data = part.url[5:].partition(",")
        media = head.split(";")[0] or media
        if ";base64" not in head:
            data = base64.b64encode(data.encode()).decode()
    fmt = IMAGE_FORMATS.get((media or "image/png").lower())
    if part.url and part.url.startswith("s3://"):
        return {"format": fmt or "png", "source": {"s3Location": {"uri": part.url}}}
    if data is None:
        raise errors.InvalidRequestError(
            "Bedrock takes images as bytes or s3:// URLs, not http(s) URLs; pass the bytes "
            "with ImagePart.from_bytes")
    if fmt is None:
        raise errors.InvalidRequestError(f"Bedrock does not accept images of type {media}")
    return {"format": fmt, "source": {"bytes": data}}  # base64 text, as rest-json sends blobs


def _tool_config(request: Request, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not request.tools:
        return None
    choice = request.tool_choice
    if choice == "none":
        # Converse has no "none" choice. Tools are left out, unless the history holds
        # tool blocks: Bedrock then insists on a toolConfig, so they stay (as auto).
        used = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
        if not used:
            return None
        choice = None
    specs = []
    for tool in request.tools:
        spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
        if tool.description:
            spec["description"] = tool.description
        if tool.strict is not None:
            spec["strict"] = tool.strict
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    if isinstance(choice, ToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def _output_config(request: Request) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        raise errors.InvalidRequestError(
            "Bedrock Converse has no plain JSON mode; give a json_schema response format")
    if fmt is not None and fmt.type == "json_schema" and fmt.schema_ is not None:
        config["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": json.dumps(fmt.schema_), "name": fmt.name}}}
    if request.reasoning_effort:
        config["effort"] = _EFFORT[request.reasoning_effort]
    return config or None


# ------------------------------------------------------------------ response


def finish_reason(raw: str | None) -> FinishReason:
    return FINISH.get(raw or "", "other") if raw else "stop"


def parse_usage(data: Any) -> Usage | None:
    """Bedrock's ``inputTokens`` leaves cache reads and writes out; ours includes them."""
    if not isinstance(data, Mapping):
        return None
    read = int(data.get("cacheReadInputTokens") or 0)
    write = int(data.get("cacheWriteInputTokens") or 0)
    return Usage(input_tokens=int(data.get("inputTokens") or 0) + read + write,
                 output_tokens=int(data.get("outputTokens") or 0),
                 cached_input_tokens=read, cache_write_tokens=write)


def to_completion(data: Any, *, provider: str, model: str,
                  request_id: str | None = None) -> Completion:
    output = data.get("output") if isinstance(data, Mapping) else None
    message = output.get("message") if isinstance(output, Mapping) else None
    if not isinstance(message, Mapping):
        raise errors.malformed("response is not a Converse answer", data, provider=provider)
    texts: list[str] = []
    thoughts: list[str] = []
    reasoning: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    for block in message.get("content") or ():
        if not isinstance(block, Mapping):
            continue
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"] or {}
            calls.append(ToolCall(id=str(use.get("toolUseId") or f"call_{len(calls)}"),
                                  name=str(use.get("name") or ""),
                                  arguments=json.dumps(use.get("input") or {})))
        elif "reasoningContent" in block:
            content = block["reasoningContent"] or {}
            reasoning.append(dict(content))
            text = (content.get("reasoningText") or {}).get("text")
            if text:
                thoughts.append(text)
    raw = data.get("stopReason")
    extra: dict[str, Any] = {}
    if reasoning:
        extra["provider_data"] = {"bedrock_reasoning": reasoning}
    for key, name in (("additionalModelResponseFields", "additional_fields"),
                      ("trace", "trace"), ("serviceTier", "service_tier")):
        if data.get(key):
            extra[name] = data[key]
    latency = (data.get("metrics") or {}).get("latencyMs")
    if latency is not None:
        extra["latency_ms"] = latency
    return Completion(
        text="".join(texts), reasoning="".join(thoughts) or None, tool_calls=calls,
        finish_reason="tool_calls" if calls and raw in (None, "tool_use") else finish_reason(raw),
        raw_finish_reason=raw, usage=parse_usage(data.get("usage")), model=model,
        provider=provider, id=request_id, extra=extra)


# ------------------------------------------------------------------ errors

_CONTEXT = re.compile(
    r"input is too long|too many (input )?tokens|prompt is too long|context (length|window)"
    r"|token limit|exceeds? the (max|maximum) (input|context|number of input)"
    r"|input length", re.IGNORECASE)
_AUTH = frozenset({"UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
                   "InvalidSignatureException", "IncompleteSignatureException",
                   "InvalidClientTokenId", "SignatureDoesNotMatch",
                   "MissingAuthenticationTokenException", "InvalidAccessKeyId",
                   "UnauthorizedException", "TokenRefreshRequired"})
_BY_TYPE: dict[str, type[errors.APIError]] = {
    "ThrottlingException": errors.RateLimitError,
    "TooManyRequestsException": errors.RateLimitError,
    "ModelNotReadyException": errors.OverloadedError,
    "ServiceUnavailableException": errors.OverloadedError,
    "InternalServerException": errors.ProviderError,
    "InternalFailure": errors.ProviderError,
    "ModelErrorException": errors.ProviderError,
    "ModelStreamErrorException": errors.StreamError,
    "AccessDeniedException": errors.PermissionDeniedError,
    "ResourceNotFoundException": errors.ModelNotFoundError,
    "ModelTimeoutException": errors.TimeoutError,
    # A hard account quota: retrying does not help until the quota is raised.
    "ServiceQuotaExceededException": errors.QuotaExceededError,
    "ConflictException": errors.InvalidRequestError,
}


def error_type(raw: str | None) -> str | None:
    """``ValidationException:http://internal...`` or ``throttlingException`` -> the
    capitalised type name, as in the service model."""
    if not raw:
        return None
    name = raw.split(":", 1)[0].split("#")[-1].strip()
    return name[:1].upper() + name[1:] if name else None


def error_class(etype: str | None, status: int, message: str) -> type[errors.APIError]:
    if etype in _BY_TYPE:
        return _BY_TYPE[etype]
    if etype in _AUTH:
        return errors.AuthenticationError
    if etype == "ValidationException" or (etype is None and status == 400):
        return errors.ContextLengthError if _CONTEXT.search(message) else \
            errors.InvalidRequestError
    if status == 403 and etype is None:
        return errors.PermissionDeniedError
    return errors.error_for_status(status)


def error_info(data: Any) -> str:
    """The message of an error body (``message``; ``Message`` in some AWS front ends)."""
    if isinstance(data, Mapping):
        for key in ("message", "Message", "errorMessage"):
            value = data.get(key)
            if isinstance(value, str):
                return value
    if isinstance(data, (bytes, str)) and data:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return text[:300]
    return "Bedrock request failed"
