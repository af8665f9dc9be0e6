"""Chat Completions wire format: request bodies out, completions and chunks in.

Pure functions over dicts, shared by every OpenAI-compatible plugin. Provider
differences are parameters (``max_tokens_field``) or hooks on the provider class.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from plugbay.types import (
    FinishEvent,
    FinishReason,
    ImagePart,
    Message,
    ReasoningDelta,
    Request,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)

__all__ = ["build_body", "finish_reason", "message_text", "parse_message", "parse_usage",
           "stream_events"]

FINISH: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls",
    "content_filter": "content_filter", "model_length": "length", "error": "error",
    "end_turn": "stop", "max_tokens": "length", "eos": "stop", "tool_use": "tool_calls",
}


def finish_reason(raw: str | None, *, has_calls: bool = False) -> FinishReason:
    """The normalised reason; an answer that calls tools but names no reason (some
    routers' streams send ``null`` throughout) finished to have them run."""
    if not raw and has_calls:
        return "tool_calls"
    return FINISH.get(raw or "", "other")


# ------------------------------------------------------------------ requests


def encode_message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role}
    if isinstance(m.content, list):
        out["content"] = [
            {"type": "image_url", "image_url": {"url": p.data_url()}} if isinstance(p, ImagePart)
            else {"type": "text", "text": p.text}
            for p in m.content
        ]
    else:
        out["content"] = m.content
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    if m.tool_call_id:
        out["tool_call_id"] = m.tool_call_id
    if m.name:
        out["name"] = m.name
    return out


def build_body(request: Request, *, stream: bool, max_tokens_field: str = "max_tokens",
               seed_field: str = "seed", include_usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model,
                            "messages": [encode_message(m) for m in request.messages]}
    for field in ("temperature", "top_p", "stop", "user", "reasoning_effort"):
        value = getattr(request, field)
        if value is not None:
            body[field] = value
    if request.max_tokens is not None:
        body[max_tokens_field] = request.max_tokens
    if request.seed is not None:
        body[seed_field] = request.seed
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "parameters": t.parameters,
                **({"strict": t.strict} if t.strict is not None else {}),
            }} for t in request.tools
        ]
    if isinstance(request.tool_choice, ToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice.name}}
    elif request.tool_choice is not None:
        body["tool_choice"] = request.tool_choice
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_ or {}}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif fmt is not None:
        body["response_format"] = {"type": fmt.type}
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    return request.merge_extra(body)


# ------------------------------------------------------------------ responses


def parse_usage(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    prompt = data.get("prompt_tokens_details") or {}
    completion = data.get("completion_tokens_details") or {}
    cached = prompt.get("cached_tokens") or data.get("prompt_cache_hit_tokens") or 0
    return Usage(
        input_tokens=data.get("prompt_tokens") or 0,
        output_tokens=data.get("completion_tokens") or 0,
        cached_input_tokens=cached,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
    )


def message_text(content: Any) -> tuple[str, str | None]:
    """(answer, reasoning) from string content or an array of parts (Mistral, others)."""
    if content is None:
        return "", None
    if isinstance(content, str):
        return content, None
    text: list[str] = []
    thinking: list[str] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            text.append(part.get("text") or "")
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, list):
                thinking.extend(p.get("text", "") for p in inner if isinstance(p, dict))
            elif isinstance(inner, str):
                thinking.append(inner)
    return "".join(text), "".join(thinking) or None


def parse_message(message: dict[str, Any]) -> tuple[str, str | None, list[ToolCall]]:
    text, reasoning = message_text(message.get("content"))
    reasoning = message.get("reasoning_content") or message.get("reasoning") or reasoning
    calls = [
        ToolCall(id=c.get("id") or f"call_{i}", name=c["function"]["name"],
                 arguments=c["function"].get("arguments") or "{}")
        for i, c in enumerate(message.get("tool_calls") or [])
    ]
    return text, reasoning if isinstance(reasoning, str) else None, calls


def stream_events(chunk: dict[str, Any], state: dict[str, Any]) -> Iterator[StreamEvent]:
    """Events from one ``chat.completion.chunk``; ``state`` keeps the finish reason and
    whether a tool call came (``"calls"``)."""
    for choice in chunk.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            yield ReasoningDelta(text=reasoning)
        content = delta.get("content")
        if content:
            if isinstance(content, str):
                yield TextDelta(text=content)
            else:
                text, thinking = message_text(content)
                if thinking:
                    yield ReasoningDelta(text=thinking)
                if text:
                    yield TextDelta(text=text)
        for call in delta.get("tool_calls") or ():
            state["calls"] = True
            fn = call.get("function") or {}
            yield ToolCallDelta(index=call.get("index", 0), id=call.get("id"),
                                name=fn.get("name"), arguments=fn.get("arguments") or "")
        raw = choice.get("finish_reason")
        if raw:
            state["finish"] = raw


def finish_event(raw: str | None, extra: dict[str, Any] | None = None, *,
                 has_calls: bool = False) -> FinishEvent:
    """The last event; a stream that never named a reason stopped (or called tools)."""
    reason = finish_reason(raw, has_calls=has_calls) if raw or has_calls else "stop"
    return FinishEvent(reason=reason, raw_reason=raw, extra=extra or {})
