"""Anthropic Messages wire format: pure request, response, stream and error codecs.

No HTTP and no auth lives here, so every front-end that speaks the Messages body
(the Anthropic API itself, Claude on Vertex AI ``:rawPredict``, Bedrock
``InvokeModel``) reuses it. Everything takes and returns plain dicts and plugbay
types.

API
---
``build_body(request, *, stream, default_max_tokens=4096, thinking="enabled",
include_model=True) -> dict``
    The ``/v1/messages`` body. System messages go to top-level ``system``; tool
    results become ``tool_result`` blocks in user turns; consecutive same-role
    turns are merged; ``max_tokens`` is always present; ``reasoning_effort`` maps
    to ``thinking`` (``"enabled"``: a ``budget_tokens`` budget; ``"adaptive"``:
    ``{"type": "adaptive"}`` plus ``output_config.effort``). ``request.extra`` is
    merged last. Vertex passes ``include_model=False`` and adds its own
    ``anthropic_version``.
``encode_messages(messages) -> (system | None, list[dict])``
    Only the message part of the body.
``parse_response(data) -> Parsed``
    A whole ``message`` object: text, reasoning, tool calls, finish reasons,
    ``Usage``, id, model and ``provider_data`` (thinking blocks with their
    signatures, to echo back on the next turn via ``Message.provider_data``).
``to_completion(data, *, provider, model) -> Completion``
    ``parse_response`` as a :class:`~plugbay.types.Completion`.
``plugbay_anthropic.streaming`` (a sibling module)
    Streaming: ``StreamState`` (one named SSE event in, plugbay events out) and
    ``aiter_events(byte_chunks)`` (SSE bytes in; deltas, then ``UsageEvent`` and
    ``FinishEvent`` out).
``parse_usage(dict) -> Usage``, ``finish_reason(raw) -> FinishReason``
``error_class(status, error_type, message, body) -> type[APIError] | None`` and
``error_info(body) -> (message, error_type)``: error refinement from the body.
``tool_input(arguments) -> dict`` and ``provider_data(thinking, server) -> dict | None``:
    helpers shared with the streaming module.
"""

from __future__ import annotations

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

__all__ = ["Parsed", "build_body", "encode_messages", "error_class", "error_info",
           "finish_reason", "parse_response", "parse_usage", "provider_data", "to_completion",
           "tool_input"]

FINISH: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Thinking budgets for reasoning_effort on models that take a fixed budget.
BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
# The status an in-stream error type would have had as an HTTP error.
STATUS_OF = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
             "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
             "rate_limit_error": 429, "api_error": 500, "timeout_error": 504,
             "overloaded_error": 529}
_BY_TYPE: dict[str, type[errors.APIError]] = {
    "overloaded_error": errors.OverloadedError, "rate_limit_error": errors.RateLimitError,
    "authentication_error": errors.AuthenticationError, "billing_error": errors.QuotaExceededError,
    "permission_error": errors.PermissionDeniedError, "api_error": errors.ProviderError,
    "timeout_error": errors.TimeoutError, "request_too_large": errors.InvalidRequestError,
}


def finish_reason(raw: str | None) -> FinishReason:
    return FINISH.get(raw or "", "other")


# ------------------------------------------------------------------ requests


def _image(part: ImagePart) -> dict[str, Any]:
    if part.url and part.url.startswith("data:"):
        head, _, data = part.url.partition(",")
        media = head[5:].split(";")[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    if part.url:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    return {"type": "image", "source": {"type": "base64",
                                        "media_type": part.media_type or "image/png",
                                        "data": part.data or ""}}


def _content_blocks(m: Message) -> list[dict[str, Any]]:
    if m.content is None:
        return []
    if isinstance(m.content, str):  # the API rejects empty text blocks
        return [{"type": "text", "text": m.content}] if m.content else []
    return [_image(p) if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
            for p in m.content if isinstance(p, ImagePart) or p.text]


def tool_input(arguments: str) -> Any:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}  # a truncated call (max_tokens) cannot be replayed as JSON
    return value if isinstance(value, dict) else {"value": value}


def _assistant_blocks(m: Message) -> list[dict[str, Any]]:
    data = m.provider_data or {}
    # Thinking blocks go first and unchanged: the signature covers them.
    blocks = [dict(b) for b in data.get("thinking_blocks") or ()]
    blocks += _content_blocks(m)
    for call in m.tool_calls or ():
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                       "input": tool_input(call.arguments)})
    return blocks


def encode_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system text, turns) with tool results as user turns and same roles merged."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            if m.text():
                system.append(m.text())
            continue
        if m.role == "tool":
            role = "user"
            blocks = [{"type": "tool_result", "tool_use_id": m.tool_call_id or "",
                       "content": m.text()}]
        elif m.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(m)
        else:
            role, blocks = "user", _content_blocks(m)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return ("\n\n".join(system) or None), turns


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, ToolChoice):
        return {"type": "tool", "name": choice.name}
    return {"auto": {"type": "auto"}, "required": {"type": "any"},
            "none": {"type": "none"}}.get(choice or "")


def build_body(request: Request, *, stream: bool, default_max_tokens: int = 4096,
               thinking: str = "enabled", include_model: bool = True) -> dict[str, Any]:
    system, turns = encode_messages(request.messages)
    body: dict[str, Any] = {"model": request.model} if include_model else {}
    max_tokens = request.max_tokens or default_max_tokens
    body["messages"] = turns
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.tools:
        body["tools"] = [{"name": t.name, **({"description": t.description}
                                             if t.description else {}),
                          "input_schema": t.parameters,
                          **({"strict": t.strict} if t.strict is not None else {})}
                         for t in request.tools]
    choice = _tool_choice(request.tool_choice)
    if choice is not None:
        body["tool_choice"] = choice
    output: dict[str, Any] = {}
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        output["format"] = {"type": "json_schema", "schema": fmt.schema_ or {}}
    effort = request.reasoning_effort
    if effort is not None and thinking == "adaptive":
        body["thinking"] = {"type": "adaptive"}
        output["effort"] = "low" if effort == "minimal" else effort
    elif effort is not None:
        budget = BUDGETS[effort]
        if request.max_tokens is None:
            max_tokens = max(max_tokens, budget + default_max_tokens)
        budget = max(1024, min(budget, max_tokens - 1))  # must stay below max_tokens
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if output:
        body["output_config"] = output
    body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return request.merge_extra(body)


# ------------------------------------------------------------------ responses


def parse_usage(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    fresh = data.get("input_tokens") or 0
    written = data.get("cache_creation_input_tokens") or 0
    read = data.get("cache_read_input_tokens") or 0
    # plugbay counts cache reads and writes inside input_tokens; Anthropic does not.
    return Usage(input_tokens=fresh + written + read, output_tokens=data.get("output_tokens") or 0,
                 cached_input_tokens=read, cache_write_tokens=written)


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


def provider_data(thinking: list[dict[str, Any]], server: list[dict[str, Any]],
                   ) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if thinking:
        data["thinking_blocks"] = thinking
    if server:
        data["server_blocks"] = server
    return data or None


def parse_response(data: dict[str, Any]) -> Parsed:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    server: list[dict[str, Any]] = []
    for block in data.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text") or "")
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            thinking.append(block)
        elif kind == "redacted_thinking":
            thinking.append(block)
        elif kind == "tool_use":
            calls.append(ToolCall(id=block.get("id") or f"call_{len(calls)}",
                                  name=block.get("name") or "",
                                  arguments=json.dumps(block.get("input") or {})))
        elif kind:  # server tools and their results: kept, not surfaced as calls
            server.append(block)
    raw = data.get("stop_reason")
    return Parsed(text="".join(text), reasoning="".join(reasoning) or None, tool_calls=calls,
                  finish=finish_reason(raw), raw_finish=raw, usage=parse_usage(data.get("usage")),
                  id=data.get("id"), model=data.get("model"),
                  provider_data=provider_data(thinking, server))


def to_completion(data: Any, *, provider: str, model: str) -> Completion:
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise errors.malformed("response is not a Message", data, provider=provider)
    p = parse_response(data)
    extra: dict[str, Any] = {}
    if p.provider_data:
        extra["provider_data"] = p.provider_data
    if data.get("stop_sequence"):
        extra["stop_sequence"] = data["stop_sequence"]
    return Completion(text=p.text, reasoning=p.reasoning, tool_calls=p.tool_calls,
                      finish_reason=p.finish, raw_finish_reason=p.raw_finish, usage=p.usage,
                      model=p.model or model, provider=provider, id=p.id, extra=extra)


# ------------------------------------------------------------------ errors


def error_info(body: Any) -> tuple[str, str | None]:
    """(message, error type) from ``{"type":"error","error":{"type","message"}}``."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or "unknown error"), err.get("type")
    if isinstance(body, (str, bytes)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return text.strip()[:500] or "empty error body", None
    return str(body)[:500], None


def error_class(status: int, error_type: str | None, message: str, body: Any,
                ) -> type[errors.APIError] | None:
    low = message.lower()
    if "enforced_spend_limit_reached" in json.dumps(body) or "spend limit" in low:
        return errors.QuotaExceededError  # retrying cannot help until the limit is raised
    if "prompt is too long" in low or "context window" in low or "context_length" in low:
        return errors.ContextLengthError
    if error_type == "not_found_error" or status == 404:
        return errors.ModelNotFoundError
    return _BY_TYPE.get(error_type or "")
