"""Cohere v2 Chat wire format: request bodies out, responses, stream events and errors in.

Pure functions over dicts. Cohere differs from Chat Completions in ways that matter:
``tool_choice`` is ``REQUIRED``/``NONE`` (no named tool), top-p is ``p``, stops are
``stop_sequences``, the answer is a list of content blocks (``text`` / ``thinking``),
usage has *billed* units next to raw ``tokens``, and streams are named SSE events
ending at ``message-end``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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

__all__ = ["FINISH", "build_body", "error_class", "finish_reason", "model_info",
           "parse_error", "parse_response", "parse_usage", "stream_events"]

FINISH: dict[str, FinishReason] = {
    "COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls", "ERROR": "error", "TIMEOUT": "error",
}

_CONTEXT_HINTS = ("too many tokens", "context length", "context window", "maximum context",
                  "prompt is too long", "exceeds the maximum")

# Cohere's `features` names -> ModelInfo flags.
_FEATURES = {"tools": "supports_tools", "strict_tools": "supports_tools",
             "vision": "supports_vision", "json_schema": "supports_json_schema",
             "reasoning": "supports_reasoning"}


def finish_reason(raw: str | None) -> FinishReason:
    return FINISH.get(raw or "", "other")


# ------------------------------------------------------------------ requests


def _content(m: Message) -> str | list[dict[str, Any]]:
    if not isinstance(m.content, list):
        return m.content or ""
    return [
        {"type": "image_url", "image_url": {"url": p.data_url()}} if isinstance(p, ImagePart)
        else {"type": "text", "text": p.text}
        for p in m.content
    ]


def encode_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.text()}
    out: dict[str, Any] = {"role": m.role}
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments or "{}"}}
            for c in m.tool_calls
        ]
        # Cohere wants the plan it wrote before the calls echoed back with them.
        plan = (m.provider_data or {}).get("tool_plan") or m.reasoning
        if plan:
            out["tool_plan"] = plan
        if m.content:
            out["content"] = _content(m)
        return out
    out["content"] = _content(m)
    return out


def build_body(request: Request, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model,
                            "messages": [encode_message(m) for m in request.messages],
                            "stream": stream}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["p"] = request.top_p
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop_sequences"] = request.stop
    tools = request.tools or []
    choice = request.tool_choice
    if isinstance(choice, ToolChoice):
        # No named-tool choice on Cohere: offer only that tool and require a call.
        tools = [t for t in tools if t.name == choice.name]
        choice = "required"
    if tools:
        body["tools"] = [
            {"type": "function", "function": {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "parameters": t.parameters}}
            for t in tools
        ]
        if request.tools and any(t.strict for t in request.tools):
            body["strict_tools"] = True
    if choice == "required":
        body["tool_choice"] = "REQUIRED"
    elif choice == "none":
        body["tool_choice"] = "NONE"
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        body["response_format"] = {"type": "json_object"}
        if fmt.type == "json_schema" and fmt.schema_:
            body["response_format"]["json_schema"] = fmt.schema_
    if request.reasoning_effort is not None:
        body["thinking"] = {"type": "disabled" if request.reasoning_effort == "minimal"
                            else "enabled"}
    body.update(request.extra)
    return body


# ------------------------------------------------------------------ responses


def parse_usage(usage: dict[str, Any] | None) -> Usage | None:
    """Usage from the *billed* units: what Cohere charges for.

    ``cached_tokens`` counts cache hits over the whole processed prompt (``tokens``),
    which includes tokens Cohere adds ahead of the messages and does not bill. A cache hit
    is a prefix, so those unbilled tokens are hit first: the billed input that hit the
    cache is what ``cached_tokens`` has beyond them (a lower bound if some unbilled
    tokens come later, so cost is never understated).
    """
    if not usage:
        return None
    billed = usage.get("billed_units") or {}
    tokens = usage.get("tokens") or {}
    source = billed if billed else tokens
    inputs = int(source.get("input_tokens") or 0)
    processed = tokens.get("input_tokens")
    unbilled = max(int(processed) - inputs, 0) if billed and processed is not None else 0
    hits = int(usage.get("cached_tokens") or 0) - unbilled
    return Usage(input_tokens=inputs, output_tokens=int(source.get("output_tokens") or 0),
                 cached_input_tokens=min(max(hits, 0), inputs))


def usage_extra(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Cohere's own counts, kept as sent: ``tokens``, ``billed_units``, ``cached_tokens``."""
    if not usage:
        return {}
    return {key: usage[key] for key in ("tokens", "billed_units", "cached_tokens")
            if usage.get(key) is not None}


def _blocks(content: Any) -> tuple[str, str | None]:
    if isinstance(content, str):
        return content, None
    text: list[str] = []
    thinking: list[str] = []
    for block in content or ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking":
            thinking.append(block.get("thinking") or "")
        elif block.get("type") == "text":
            text.append(block.get("text") or "")
    return "".join(text), "".join(thinking) or None


def parse_calls(calls: list[dict[str, Any]] | None) -> list[ToolCall]:
    out = []
    for i, call in enumerate(calls or ()):
        fn = call.get("function") or {}
        args = fn.get("arguments")
        if not isinstance(args, str):  # be lenient: an object is still valid arguments
            args = json.dumps(args if args is not None else {})
        out.append(ToolCall(id=call.get("id") or f"call_{i}", name=fn.get("name") or "",
                            arguments=args or "{}"))
    return out


def parse_response(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``Completion`` from a non-stream ``/v2/chat`` answer."""
    message = data.get("message") or {}
    text, thinking = _blocks(message.get("content"))
    plan = message.get("tool_plan")
    extra: dict[str, Any] = usage_extra(data.get("usage"))
    if message.get("citations"):
        extra["citations"] = message["citations"]
    if plan:
        extra["tool_plan"] = plan
        extra["provider_data"] = {"tool_plan": plan}
    if data.get("logprobs"):
        extra["logprobs"] = data["logprobs"]
    raw = data.get("finish_reason")
    return {"text": text, "reasoning": thinking or plan or None,
            "tool_calls": parse_calls(message.get("tool_calls")),
            "finish_reason": finish_reason(raw), "raw_finish_reason": raw,
            "usage": parse_usage(data.get("usage")), "id": data.get("id"), "extra": extra}


def stream_events(kind: str, data: dict[str, Any], state: dict[str, Any],
                  ) -> Iterator[StreamEvent]:
    """Events from one named SSE event. ``state`` collects finish, usage and citations."""
    delta = data.get("delta") or {}
    message = delta.get("message") or {}
    if kind == "content-delta":
        content = message.get("content") or {}
        if content.get("thinking"):
            yield ReasoningDelta(text=content["thinking"])
        if content.get("text"):
            yield TextDelta(text=content["text"])
    elif kind == "tool-plan-delta":
        if message.get("tool_plan"):
            yield ReasoningDelta(text=message["tool_plan"])
    elif kind in ("tool-call-start", "tool-call-delta"):
        state["calls"] = True
        call = message.get("tool_calls") or {}
        fn = call.get("function") or {}
        index = data.get("index", 0)
        if kind == "tool-call-start":
            yield ToolCallDelta(index=index, id=call.get("id"), name=fn.get("name"),
                                arguments=fn.get("arguments") or "")
        elif fn.get("arguments"):
            yield ToolCallDelta(index=index, arguments=fn["arguments"])
    elif kind == "citation-start":
        citations = message.get("citations")
        if citations:
            state.setdefault("citations", []).append(citations)
    elif kind == "message-start":
        state["id"] = data.get("id")
    elif kind == "message-end":
        state["finish"] = delta.get("finish_reason")
        state["usage"] = delta.get("usage")
        state["done"] = True


# ------------------------------------------------------------------ errors and models


def parse_error(raw: bytes | str) -> tuple[str, str | None, Any]:
    """(message, id, body) from Cohere's ``{"id", "message"}`` error body (or anything else)."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return text.strip()[:500] or "empty error body", None, text[:2000]
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail") or body.get("error") or str(body)
        if not isinstance(message, str):
            message = json.dumps(message)[:1000]
        return message, body.get("id"), body
    return str(body)[:500], None, body


def error_class(status: int, message: str) -> type[errors.APIError] | None:
    low = message.lower()
    if status in (400, 422) and any(h in low for h in _CONTEXT_HINTS):
        return errors.ContextLengthError
    if status == 404 and "model" not in low:
        return errors.InvalidRequestError
    return None


def model_info(item: dict[str, Any], provider: str, base: ModelInfo | None) -> ModelInfo:
    info = base or ModelInfo(id=item["name"], provider=provider)
    if item.get("context_length") and not info.context_window:
        info.context_window = int(item["context_length"])
    features = item.get("features")
    if isinstance(features, list):
        flags = {field: False for field in _FEATURES.values()}
        for name in features:
            if name in _FEATURES:
                flags[_FEATURES[name]] = True
        for field, value in flags.items():
            if getattr(info, field) is None or value:
                setattr(info, field, value)
        info.extra["features"] = features
    for key in ("endpoints", "finetuned", "tokenizer_url", "default_endpoints"):
        if item.get(key) is not None:
            info.extra[key] = item[key]
    return info
