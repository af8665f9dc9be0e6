"""The OpenAI Chat Completions wire, read and written by the gateway.

``chat_call`` turns a ``POST /v1/chat/completions`` body into ``Client.astream`` /
``acomplete`` arguments; ``ChunkWriter`` turns plugbay stream events back into
``chat.completion.chunk`` SSE frames. The JSON answer is ``openai_compat.encode``'s.
A field that cannot be read is a ``WireError`` naming it (400, ``param`` set).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from plugbay.gateway.wire_errors import WireError, expect
from plugbay.openai_compat.encode import finish_reason_out, usage_json
from plugbay.types import (
    Completion,
    FinishEvent,
    ImagePart,
    Message,
    ReasoningDelta,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)

__all__ = ["ChatCall", "ChunkWriter", "chat_call", "embeddings_json", "sse"]

# Fields taken as they are (same name and meaning in plugbay's Request).
_SAME = ("temperature", "top_p", "seed", "user", "reasoning_effort")
# Sampling fields most OpenAI-compatible upstreams take: passed on in the body.
_PASSED = ("frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
           "parallel_tool_calls")
# Accepted and not acted on: they steer OpenAI's own storage, tiers and caching.
_IGNORED = ("store", "service_tier", "prompt_cache_key", "safety_identifier", "modalities",
            "stream_options", "stream", "n", "model", "messages", "metadata", "max_tokens",
            "max_completion_tokens", "stop", "tools", "tool_choice", "response_format",
            "functions", "verbosity")


class ChatCall:
    """One chat request, ready for the client: ``model``, ``messages``, ``params``."""

    __slots__ = ("include_usage", "messages", "model", "params", "stream")

    def __init__(self, model: str, messages: list[Message], params: dict[str, Any],
                 stream: bool, include_usage: bool) -> None:
        self.model, self.messages, self.params = model, messages, params
        self.stream, self.include_usage = stream, include_usage


def _image(part: Mapping[str, Any], where: str) -> ImagePart:
    url = expect(part.get("image_url"), dict, f"{where}.image_url").get("url")
    url = expect(url, str, f"{where}.image_url.url")
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return ImagePart(data=data, media_type=head or "image/png")
    return ImagePart(url=url)


def _content(content: Any, where: str) -> str | list[TextPart | ImagePart] | None:
    if content is None or isinstance(content, str):
        return content
    parts: list[TextPart | ImagePart] = []
    for i, part in enumerate(expect(content, list, where)):
        at = f"{where}[{i}]"
        kind = expect(part, dict, at).get("type")
        if kind == "text":
            parts.append(TextPart(text=expect(part.get("text"), str, f"{at}.text")))
        elif kind == "image_url":
            parts.append(_image(part, at))
        else:
            raise WireError(f"{at}.type {kind!r} is not supported: use 'text' or "
                            "'image_url'", param=f"{at}.type")
    return parts


def _tool_calls(raw: Any, where: str) -> list[ToolCall] | None:
    if raw is None:
        return None
    calls = []
    for i, call in enumerate(expect(raw, list, where)):
        at = f"{where}[{i}]"
        fn = expect(expect(call, dict, at).get("function"), dict, f"{at}.function")
        calls.append(ToolCall(id=expect(call.get("id"), str, f"{at}.id"),
                              name=expect(fn.get("name"), str, f"{at}.function.name"),
                              arguments=fn.get("arguments") or "{}"))
    return calls or None


def _message(raw: Any, i: int) -> Message:
    at = f"messages[{i}]"
    m = expect(raw, dict, at)
    role = m.get("role")
    content = _content(m.get("content"), f"{at}.content")
    if role in ("system", "developer"):
        return Message(role="system", content=content)
    if role == "user":
        return Message(role="user", content=content)
    if role == "assistant":
        reasoning = m.get("reasoning_content")
        return Message(role="assistant", content=content,
                       tool_calls=_tool_calls(m.get("tool_calls"), f"{at}.tool_calls"),
                       reasoning=reasoning if isinstance(reasoning, str) else None)
    if role == "tool":
        text = content if isinstance(content, str) or content is None else "".join(
            p.text for p in content if isinstance(p, TextPart))
        return Message(role="tool", content=text or "", name=m.get("name"),
                       tool_call_id=expect(m.get("tool_call_id"), str, f"{at}.tool_call_id"))
    raise WireError(f"{at}.role {role!r} is not one of system, developer, user, assistant, "
                    "tool", param=f"{at}.role")


def _tools(raw: Any) -> list[Tool] | None:
    if raw is None:
        return None
    tools = []
    for i, tool in enumerate(expect(raw, list, "tools")):
        at = f"tools[{i}]"
        fn = expect(expect(tool, dict, at).get("function"), dict, f"{at}.function")
        tools.append(Tool(name=expect(fn.get("name"), str, f"{at}.function.name"),
                          description=fn.get("description"),
                          parameters=fn.get("parameters") or {"type": "object",
                                                              "properties": {}},
                          strict=fn.get("strict")))
    return tools or None


def _tool_choice(raw: Any) -> Any:
    if raw is None or raw in ("auto", "none", "required"):
        return raw
    if isinstance(raw, dict) and isinstance(raw.get("function"), dict):
        return ToolChoice(name=expect(raw["function"].get("name"), str,
                                      "tool_choice.function.name"))
    raise WireError("tool_choice must be 'auto', 'none', 'required' or "
                    '{"type": "function", "function": {"name": ...}}', param="tool_choice")


def _response_format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    kind = expect(raw, dict, "response_format").get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        spec = expect(raw.get("json_schema"), dict, "response_format.json_schema")
        return {"type": "json_schema", "schema": spec.get("schema"),
                "name": spec.get("name") or "response", "strict": spec.get("strict")}
    raise WireError(f"response_format.type {kind!r} is not one of text, json_object, "
                    "json_schema", param="response_format.type")


def chat_call(body: Any) -> ChatCall:
    """A chat request body as client arguments, or ``WireError``."""
    b = expect(body, dict, "body")
    model = expect(b.get("model"), str, "model")
    raw = expect(b.get("messages"), list, "messages")
    if not raw:
        raise WireError("messages is empty: send at least one message", param="messages")
    messages = [_message(m, i) for i, m in enumerate(raw)]
    n = b.get("n")
    if n not in (None, 1):
        raise WireError("n must be 1: the gateway returns one choice", param="n")
    if b.get("functions") is not None:
        raise WireError("'functions' is the retired form of tools: send 'tools'",
                        param="functions")
    params: dict[str, Any] = {k: b[k] for k in _SAME if b.get(k) is not None}
    extra = {k: b[k] for k in _PASSED if b.get(k) is not None}
    unknown = sorted(set(b) - set(_SAME) - set(_PASSED) - set(_IGNORED))
    if unknown:
        raise WireError(f"unknown parameter {unknown[0]!r}", param=unknown[0])
    cap = b.get("max_completion_tokens", b.get("max_tokens"))
    if cap is not None:
        params["max_tokens"] = expect(cap, int, "max_tokens")
    stop = b.get("stop")
    if stop is not None:
        params["stop"] = [stop] if isinstance(stop, str) else expect(stop, list, "stop")
    for name, value in (("tools", _tools(b.get("tools"))),
                        ("tool_choice", _tool_choice(b.get("tool_choice"))),
                        ("response_format", _response_format(b.get("response_format")))):
        if value is not None:
            params[name] = value
    meta = b.get("metadata")
    if meta is not None:
        params["metadata"] = {str(k): str(v) for k, v in expect(meta, dict, "metadata").items()}
    if extra:
        params["extra"] = extra
    options = b.get("stream_options") or {}
    return ChatCall(model, messages, params, bool(b.get("stream")),
                    bool(isinstance(options, dict) and options.get("include_usage")))


def sse(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    """One server-sent event frame."""
    text = data.encode() if isinstance(data, str) else orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + text + b"\n\n"


class ChunkWriter:
    """plugbay stream events as ``chat.completion.chunk`` frames, for one stream."""

    def __init__(self, id: str, model: str, include_usage: bool) -> None:
        self.base = {"id": id, "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model}
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self.started = False
        # Every chunk is the same JSON around its delta: written once, per chunk only
        # the delta is encoded.
        head = orjson.dumps({**self.base, "choices": [{"index": 0, "delta": None}]})
        self._head = b"data: " + head[:head.rindex(b"null")]
        self._tail = b',"logprobs":null,"finish_reason":null}]}\n\n'

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        if finish is None:
            return self._head + orjson.dumps(delta) + self._tail
        return sse({**self.base, "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    def first(self) -> bytes:
        self.started = True
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, event: Any) -> bytes | None:
        if isinstance(event, TextDelta):
            return self._chunk({"content": event.text})
        if isinstance(event, ReasoningDelta):
            return self._chunk({"reasoning_content": event.text})
        if isinstance(event, ToolCallDelta):
            call: dict[str, Any] = {"index": event.index,
                                    "function": {"arguments": event.arguments}}
            if event.id is not None:
                call["id"], call["type"] = event.id, "function"
            if event.name is not None:
                call["function"]["name"] = event.name
            return self._chunk({"tool_calls": [call]})
        if isinstance(event, UsageEvent):
            self.usage = event.usage
            return None
        if isinstance(event, FinishEvent):
            return self._chunk({}, finish_reason_out(event.reason))
        return None

    def end(self, completion: Completion | None) -> bytes:
        usage = (completion.usage if completion is not None else None) or self.usage
        out = b""
        if self.include_usage:
            out += sse({**self.base, "choices": [],
                        "usage": usage_json(usage) if usage is not None else None})
        return out + sse("[DONE]")


def embeddings_json(vectors: list[Any], model: str, usage: Usage | None) -> dict[str, Any]:
    """An ``/v1/embeddings`` answer; ``vectors`` are float lists or base64 strings."""
    tokens = usage.input_tokens if usage is not None else 0
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
