"""Ollama native API (``/api/chat``) wire format: bodies out, NDJSON lines and errors in.

Pure functions over dicts. What differs from Chat Completions: sampling settings live in
``options`` (``num_predict`` is max tokens), ``stream`` defaults to *true* on the server,
images are a base64 list on the message, tool-call arguments are JSON *objects* with
no call id, structured output is ``format``, and usage counters and durations
(nanoseconds) come on the final ``done: true`` line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from plugbay import errors
from plugbay.types import (
    FinishReason,
    ImagePart,
    Message,
    ModelInfo,
    ReasoningDelta,
    Request,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)

__all__ = ["build_body", "call_id", "durations", "error_class", "finish", "model_info",
           "parse_error", "parse_message", "parse_usage", "stream_events"]

FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
_CONTEXT_HINTS = ("context length", "context window", "exceeds the context", "too long",
                  "num_ctx")


# ------------------------------------------------------------------ requests


def _image(part: ImagePart) -> str:
    if part.data:
        return part.data
    url = part.url or ""
    if url.startswith("data:") and ";base64," in url:
        return url.split(";base64,", 1)[1]
    raise errors.InvalidRequestError(
        "Ollama takes images as base64 data, not URLs: pass ImagePart(data=...) "
        "or ImagePart.from_bytes(...)")


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return raw  # hand the model back what it wrote rather than failing the request


def encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # tool call id -> tool name, for `tool_name` on results
    out: list[dict[str, Any]] = []
    for m in messages:
        msg: dict[str, Any] = {"role": m.role, "content": m.text()}
        if isinstance(m.content, list):
            images = [_image(p) for p in m.content if isinstance(p, ImagePart)]
            if images:
                msg["images"] = images
        if m.role == "assistant" and m.reasoning:
            msg["thinking"] = m.reasoning
        if m.tool_calls:
            msg["tool_calls"] = [
                {"function": {"name": c.name, "arguments": _arguments(c.arguments)}}
                for c in m.tool_calls
            ]
            names.update({c.id: c.name for c in m.tool_calls})
        if m.role == "tool":
            name = m.name or names.get(m.tool_call_id or "")
            if name:
                msg["tool_name"] = name
        out.append(msg)
    return out


def build_body(request: Request, *, stream: bool,
               defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``/api/chat`` body. ``defaults`` are provider options (``options``,
    ``keep_alive``, ``think``) that the request may override."""
    defaults = defaults or {}
    # Always explicit: the server streams unless told otherwise.
    body: dict[str, Any] = {"model": request.model,
                            "messages": encode_messages(request.messages), "stream": stream}
    options: dict[str, Any] = dict(defaults.get("options") or {})
    for field, key in (("max_tokens", "num_predict"), ("temperature", "temperature"),
                       ("top_p", "top_p"), ("stop", "stop"), ("seed", "seed")):
        value = getattr(request, field)
        if value is not None:
            options[key] = value
    extra = dict(request.extra)
    options.update(extra.pop("options", None) or {})
    if options:
        body["options"] = options
    for key in ("keep_alive", "think"):
        if defaults.get(key) is not None:
            body[key] = defaults[key]
    if request.reasoning_effort is not None:
        body["think"] = False if request.reasoning_effort == "minimal" \
            else request.reasoning_effort
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        body["format"] = "json"
    elif fmt is not None and fmt.type == "json_schema":
        body["format"] = fmt.schema_ or {"type": "object"}
    tools = request.tools or []
    if isinstance(request.tool_choice, ToolChoice):
        # No tool_choice on Ollama: offering only the named tool is the closest we get.
        tools = [t for t in tools if t.name == request.tool_choice.name]
    if tools and request.tool_choice != "none":
        body["tools"] = [
            {"type": "function", "function": {
                "name": t.name, "description": t.description or "",
                "parameters": t.parameters}}
            for t in tools
        ]
    body.update(extra)
    return body


# ------------------------------------------------------------------ responses


def call_id(index: int, name: str, arguments: str) -> str:
    """A stable id for a call Ollama sent without one: same call, same id, every time."""
    digest = hashlib.sha256(f"{index}\x00{name}\x00{arguments}".encode()).hexdigest()
    return f"call_{digest[:16]}"


def parse_calls(calls: Any, start: int = 0) -> list[ToolCall]:
    out = []
    for i, call in enumerate(calls or (), start):
        fn = call.get("function") or {}
        args = fn.get("arguments")
        text = args if isinstance(args, str) else json.dumps(args if args is not None else {})
        name = fn.get("name") or ""
        out.append(ToolCall(id=call.get("id") or call_id(i, name, text), name=name,
                            arguments=text))
    return out


def parse_message(data: dict[str, Any]) -> tuple[str, str | None, list[ToolCall]]:
    message = data.get("message") or {}
    return (message.get("content") or "", message.get("thinking") or None,
            parse_calls(message.get("tool_calls")))


def parse_usage(data: dict[str, Any]) -> Usage | None:
    if "prompt_eval_count" not in data and "eval_count" not in data:
        return None
    return Usage(input_tokens=int(data.get("prompt_eval_count") or 0),
                 output_tokens=int(data.get("eval_count") or 0))


def durations(data: dict[str, Any]) -> dict[str, Any]:
    """The final line's timings: seconds under ``durations``, the raw nanoseconds kept."""
    raw = {k: data[k] for k in _DURATIONS if isinstance(data.get(k), (int, float))}
    if not raw:
        return {}
    return {"durations": {k.removesuffix("_duration"): v / 1e9 for k, v in raw.items()},
            "durations_ns": raw}


def finish(raw: str | None, has_calls: bool) -> FinishReason:
    # Ollama says "stop" even when the model called tools.
    if has_calls:
        return "tool_calls"
    return FINISH.get(raw or "stop", "other")


def stream_events(line: dict[str, Any], state: dict[str, Any]) -> Iterator[StreamEvent]:
    """Events from one NDJSON line; ``state`` counts tool calls and keeps the final line."""
    message = line.get("message") or {}
    if message.get("thinking"):
        yield ReasoningDelta(text=message["thinking"])
    if message.get("content"):
        yield TextDelta(text=message["content"])
    if message.get("tool_calls"):
        start = state.get("calls", 0)
        for i, call in enumerate(parse_calls(message["tool_calls"], start), start):
            yield ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments)
        state["calls"] = start + len(message["tool_calls"])
    if line.get("done") is True:
        state["final"] = line


# ------------------------------------------------------------------ errors and models


def parse_error(raw: bytes | str | Any) -> tuple[str, Any]:
    """(message, body) from ``{"error": "..."}`` (or a non-JSON body)."""
    body: Any = raw
    if isinstance(raw, (bytes, str)):
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            return text.strip()[:500] or "empty error body", text[:2000]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            err = err.get("message") or json.dumps(err)
        return str(err or body)[:1000], body
    return str(body)[:500], body


def error_class(status: int | None, message: str) -> type[errors.APIError] | None:
    low = message.lower()
    if any(h in low for h in _CONTEXT_HINTS):
        return errors.ContextLengthError
    if "not found" in low and "model" in low:
        return errors.ModelNotFoundError
    if status == 404:
        return errors.ModelNotFoundError if "model" in low else errors.InvalidRequestError
    return None


def model_info(item: dict[str, Any], provider: str) -> ModelInfo:
    details = item.get("details") or {}
    extra: dict[str, Any] = {k: item[k] for k in ("model", "modified_at", "size", "digest")
                             if item.get(k) is not None}
    extra.update({k: v for k, v in details.items() if v not in (None, "", [])})
    return ModelInfo(id=item.get("name") or item["model"], provider=provider, extra=extra)
