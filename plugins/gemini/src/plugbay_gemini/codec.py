"""Gemini ``generateContent`` wire format: pure request, response, stream and error codecs.

No HTTP and no auth lives here: the Gemini API (AI Studio) plugin and the Vertex
AI plugin share one body format and reuse these functions as they are. Everything
takes and returns plain dicts and plugbay types.

API
---
``build_body(request, *, json_schema_fields=True, stream=False) -> dict``
    The ``generateContent`` body: ``contents`` (roles ``user``/``model`` on every
    turn, consecutive same-role turns merged), ``systemInstruction``, ``tools``
    (``functionDeclarations``), ``toolConfig``, ``generationConfig``
    (``maxOutputTokens``, ``temperature``, ``topP``, ``stopSequences``, ``seed``,
    ``responseMimeType`` + ``responseJsonSchema``, ``thinkingConfig``).
    With ``json_schema_fields=False`` the OpenAPI-subset fields ``parameters`` and
    ``responseSchema`` are used instead (for endpoints without JSON Schema support).
    ``request.extra`` is merged last (``generationConfig`` merged key by key). The
    request option ``stream_function_call_arguments=True`` is not sent as such: on a
    stream it sets ``toolConfig.functionCallingConfig.streamFunctionCallArguments``.
``parse_response(data) -> Parsed`` and ``to_completion(data, *, provider, model)``
    One whole ``GenerateContentResponse``. ``blocked(data)`` says why a prompt was
    refused (``promptFeedback.blockReason``) when there are no candidates.
``chunk_error(data) -> APIError | None``
    The typed error inside a 200 body or stream chunk (``error`` object, blocked prompt).
``plugbay_gemini.streaming`` (a sibling module)
    ``StreamState`` (one streamed chunk in, plugbay events out) and
    ``aiter_events(byte_chunks, json_array=...)`` (SSE or JSON-array bytes in; deltas,
    then ``UsageEvent`` and ``FinishEvent`` out). ``JSONArrayDecoder`` (re-exported
    here from ``plugbay_gemini.framing``) parses the JSON-array framing incrementally.
``parse_usage(usageMetadata) -> Usage``: thoughts are billed as output, so
    ``output_tokens = candidates + thoughts`` and ``reasoning_tokens = thoughts``.
``error_info(body) -> (message, status, retry_delay)`` and
    ``error_class(http_status, status, message, body) -> type[APIError] | None``
    read the ``google.rpc`` error shape (``RetryInfo.retryDelay`` in seconds).
``tool_call_id(response_id, index, name)``: the stable id given to calls that
    arrive without one; ``encode_messages`` maps tool results back by name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from plugbay import errors
from plugbay.types import (
    Completion,
    FinishReason,
    ImagePart,
    Message,
    Request,
    ToolCall,
    ToolChoice,
    Usage,
)
from plugbay_gemini.framing import JSONArrayDecoder

__all__ = [
    "JSONArrayDecoder",
    "Parsed",
    "blocked",
    "build_body",
    "candidate",
    "chunk_error",
    "encode_messages",
    "error_class",
    "error_info",
    "finish_reason",
    "parse_response",
    "parse_usage",
    "to_completion",
    "tool_call_id",
]

_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
             "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION")
FINISH: dict[str, FinishReason] = {
    "STOP": "stop", "MAX_TOKENS": "length", "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error", "TOO_MANY_TOOL_CALLS": "error",
    **{r: "content_filter" for r in _FILTERED},
}
BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}  # Gemini 2.x
_BY_STATUS: dict[str, type[errors.APIError]] = {
    "RESOURCE_EXHAUSTED": errors.RateLimitError, "UNAVAILABLE": errors.OverloadedError,
    "PERMISSION_DENIED": errors.PermissionDeniedError, "NOT_FOUND": errors.ModelNotFoundError,
    "UNAUTHENTICATED": errors.AuthenticationError, "DEADLINE_EXCEEDED": errors.TimeoutError,
    "INTERNAL": errors.ProviderError, "INVALID_ARGUMENT": errors.InvalidRequestError,
}


def finish_reason(raw: str | None, *, has_calls: bool = False) -> FinishReason:
    if raw == "STOP" and has_calls:  # function calls end with STOP
        return "tool_calls"
    return FINISH.get(raw or "", "other")


def tool_call_id(response_id: str | None, index: int, name: str) -> str:
    """A stable id for a call the API sent without one (same answer, same id)."""
    if not response_id:
        return f"call_{index}_{name}"
    return "call_" + hashlib.sha1(f"{response_id}:{index}:{name}".encode()).hexdigest()[:16]


# ------------------------------------------------------------------ requests


def _image(part: ImagePart) -> dict[str, Any]:
    if part.url and part.url.startswith("data:"):
        head, _, data = part.url.partition(",")
        return {"inlineData": {"mimeType": head[5:].split(";")[0] or "image/png", "data": data}}
    if part.url:
        return {"fileData": {"mimeType": part.media_type or "image/png", "fileUri": part.url}}
    return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data or ""}}


def _parts(m: Message) -> list[dict[str, Any]]:
    if m.content is None:
        return []
    if isinstance(m.content, str):
        return [{"text": m.content}] if m.content else []
    return [_image(p) if isinstance(p, ImagePart) else {"text": p.text}
            for p in m.content if isinstance(p, ImagePart) or p.text]


def _model_parts(m: Message) -> list[dict[str, Any]]:
    raw = (m.provider_data or {}).get("parts")
    if raw:  # the answer as it came, with its thoughtSignatures: echoed back unchanged
        return [dict(p) for p in raw]
    parts = _parts(m)
    for call in m.tool_calls or ():
        try:
            args = json.loads(call.arguments or "{}")
        except ValueError:
            args = {}
        parts.append({"functionCall": {"name": call.name, "args": args}})
    return parts


def _response_value(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return value if isinstance(value, dict) else {"output": value}


def encode_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system text, contents). Tool results are mapped to their call's name by id."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in messages:
        for call in m.tool_calls or ():
            names[call.id] = call.name
        if m.role == "system":
            if m.text():
                system.append(m.text())
            continue
        if m.role == "tool":
            name = m.name or names.get(m.tool_call_id or "") or m.tool_call_id or "tool"
            role = "user"
            parts = [{"functionResponse": {"name": name, "response": _response_value(m.text())}}]
        elif m.role == "assistant":
            role, parts = "model", _model_parts(m)
        else:
            role, parts = "user", _parts(m)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return ("\n\n".join(system) or None), contents


def _thinking(model: str, effort: str) -> dict[str, Any]:
    name = model.removeprefix("models/")
    if name.startswith(("gemini-2", "gemini-1")):
        return {"thinkingBudget": BUDGETS[effort], "includeThoughts": True}
    if "pro" in name:  # Pro models take only low and high
        effort = "low" if effort in ("minimal", "low") else "high"
    return {"thinkingLevel": effort, "includeThoughts": True}


STREAM_ARGS = "stream_function_call_arguments"  # the request option of that mode


def build_body(request: Request, *, json_schema_fields: bool = True,
               stream: bool = False) -> dict[str, Any]:
    system, contents = encode_messages(request.messages)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        key = "parametersJsonSchema" if json_schema_fields else "parameters"
        body["tools"] = [{"functionDeclarations": [
            {"name": t.name, **({"description": t.description} if t.description else {}),
             key: t.parameters} for t in request.tools]}]
    choice = request.tool_choice
    if isinstance(choice, ToolChoice):
        body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY",
                                                        "allowedFunctionNames": [choice.name]}}
    elif choice is not None:
        mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice]
        body["toolConfig"] = {"functionCallingConfig": {"mode": mode}}
    config: dict[str, Any] = {}
    for src, dst in (("max_tokens", "maxOutputTokens"), ("temperature", "temperature"),
                     ("top_p", "topP"), ("seed", "seed")):
        value = getattr(request, src)
        if value is not None:
            config[dst] = value
    if request.stop:
        config["stopSequences"] = list(request.stop)
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.schema_ is not None:
            config["responseJsonSchema" if json_schema_fields else "responseSchema"] = fmt.schema_
    if request.reasoning_effort is not None:
        config["thinkingConfig"] = _thinking(request.model, request.reasoning_effort)
    if config:
        body["generationConfig"] = config
    if STREAM_ARGS not in request.extra:
        return request.merge_extra(body)
    extra = dict(request.extra)
    if extra.pop(STREAM_ARGS) and stream:
        calling = body.setdefault("toolConfig", {}).setdefault("functionCallingConfig", {})
        calling["streamFunctionCallArguments"] = True
    return request.model_copy(update={"extra": extra}).merge_extra(body)


# ------------------------------------------------------------------ responses


def parse_usage(meta: dict[str, Any] | None) -> Usage | None:
    if not meta:
        return None
    thoughts = meta.get("thoughtsTokenCount") or 0
    return Usage(
        # promptTokenCount already includes cached tokens; tool-use prompts are input too.
        input_tokens=(meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount")
                                                            or 0),
        output_tokens=(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_input_tokens=meta.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def blocked(data: dict[str, Any]) -> str | None:
    """The block reason of a refused prompt (no candidates), else None."""
    reason = (data.get("promptFeedback") or {}).get("blockReason")
    return str(reason) if reason and not data.get("candidates") else None


@dataclass
class Parsed:
    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: FinishReason = "other"
    raw_finish: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    provider_data: dict[str, Any] | None = None


def candidate(data: dict[str, Any]) -> dict[str, Any]:
    for cand in data.get("candidates") or ():
        if cand.get("index", 0) == 0:
            return dict(cand)
    return {}


def parse_response(data: dict[str, Any]) -> Parsed:
    cand = candidate(data)
    parts = (cand.get("content") or {}).get("parts") or []
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in parts:
        if "functionCall" in part:
            fc = part["functionCall"] or {}
            name = fc.get("name") or ""
            calls.append(ToolCall(id=fc.get("id") or tool_call_id(data.get("responseId"),
                                                                  len(calls), name),
                                  name=name, arguments=json.dumps(fc.get("args") or {})))
        elif part.get("thought"):
            thoughts.append(part.get("text") or "")
        elif "text" in part:
            text.append(part["text"] or "")
    raw = cand.get("finishReason")
    signed = any("thoughtSignature" in p for p in parts)
    return Parsed(text="".join(text), reasoning="".join(thoughts) or None, tool_calls=calls,
                  finish=finish_reason(raw, has_calls=bool(calls)), raw_finish=raw,
                  usage=parse_usage(data.get("usageMetadata")), id=data.get("responseId"),
                  model=data.get("modelVersion"),
                  provider_data={"parts": parts} if signed else None)


def to_completion(data: Any, *, provider: str, model: str) -> Completion:
    """A ``Completion`` from a whole answer; one without candidates (and not blocked,
    which ``chunk_error`` reports first) is malformed."""
    cands = data.get("candidates") if isinstance(data, dict) else None
    if not isinstance(cands, list) or not cands or not isinstance(cands[0], dict):
        raise errors.malformed("response has no candidates", data, provider=provider)
    p = parse_response(data)
    extra: dict[str, Any] = {}
    if p.provider_data:
        extra["provider_data"] = p.provider_data
    for key in ("safetyRatings", "citationMetadata", "groundingMetadata", "finishMessage"):
        if candidate(data).get(key):
            extra[key] = candidate(data)[key]
    return Completion(text=p.text, reasoning=p.reasoning, tool_calls=p.tool_calls,
                      finish_reason=p.finish, raw_finish_reason=p.raw_finish, usage=p.usage,
                      model=p.model or model, provider=provider, id=p.id, extra=extra)


# ------------------------------------------------------------------ errors


def _seconds(value: Any) -> float | None:
    try:
        return max(float(str(value).rstrip("s")), 0.0)  # google.protobuf.Duration: "34.4s"
    except ValueError:
        return None


def error_info(body: Any) -> tuple[str, str | None, float | None]:
    """(message, google.rpc status, retry delay in seconds) from an error body."""
    if isinstance(body, list) and body:  # streamGenerateContent may wrap it in an array
        body = body[0]
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return text.strip()[:500] or "empty error body", None, None
    delay = None
    for detail in err.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = _seconds(detail.get("retryDelay"))
    return str(err.get("message") or "unknown error"), err.get("status"), delay


def error_class(http_status: int, status: str | None, message: str, body: Any,
                ) -> type[errors.APIError] | None:
    low, dump = message.lower(), json.dumps(body)
    if "API_KEY_INVALID" in dump or "api key not valid" in low or "api key expired" in low:
        return errors.AuthenticationError  # Google answers a bad key with 400
    if "exceeds the maximum number of tokens" in low or "input token count" in low:
        return errors.ContextLengthError
    if status == "NOT_FOUND" or http_status == 404:
        return errors.ModelNotFoundError
    return _BY_STATUS.get(status or "")


def chunk_error(data: Any) -> errors.APIError | None:
    """The typed error a 200 body (or stream chunk) carries: an ``error`` object or a
    blocked prompt. No provider name is set: the caller stamps its own."""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
        status = code if isinstance(code, int) else 500
        message, rpc_status, delay = error_info(data)
        cls = error_class(status, rpc_status, message, data) or errors.error_for_status(status)
        return cls(message, status=status, body=data, code=rpc_status, retry_after=delay)
    reason = blocked(data) if isinstance(data, dict) else None
    if reason:
        return errors.ContentFilterError(f"prompt blocked: {reason}", body=data, code=reason)
    return None
