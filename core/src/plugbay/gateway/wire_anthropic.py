"""The Anthropic Messages wire, read and written by the gateway.

``messages_call`` turns a ``POST /v1/messages`` (or ``/count_tokens``) body into client
arguments; ``message_json`` writes a ``Completion`` as a ``message``; ``EventWriter``
writes plugbay stream events as Anthropic's SSE events (``message_start``,
``content_block_*``, ``message_delta``, ``message_stop``). Usage is converted both ways:
plugbay's ``input_tokens`` include cached input, Anthropic's do not.
"""

from __future__ import annotations

import json
from typing import Any

from plugbay.gateway.wire_errors import WireError, expect
from plugbay.gateway.wire_openai import ChatCall, sse
from plugbay.types import (
    Completion,
    FinishEvent,
    FinishReason,
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

__all__ = ["EventWriter", "message_json", "messages_call", "usage_out"]

_STOP: dict[FinishReason, str] = {"stop": "end_turn", "length": "max_tokens",
                                  "tool_calls": "tool_use", "content_filter": "refusal",
                                  "error": "end_turn"}
_KNOWN = frozenset({"model", "messages", "system", "max_tokens", "temperature", "top_p",
                    "top_k", "stop_sequences", "tools", "tool_choice", "metadata", "stream",
                    "thinking", "service_tier", "container", "mcp_servers"})


def _text(block: dict[str, Any], where: str) -> str:
    return expect(block.get("text"), str, f"{where}.text")


def _image(block: dict[str, Any], where: str) -> ImagePart:
    source = expect(block.get("source"), dict, f"{where}.source")
    if source.get("type") == "base64":
        return ImagePart(data=expect(source.get("data"), str, f"{where}.source.data"),
                         media_type=source.get("media_type") or "image/png")
    if source.get("type") == "url":
        return ImagePart(url=expect(source.get("url"), str, f"{where}.source.url"))
    raise WireError(f"{where}.source.type must be 'base64' or 'url'",
                    param=f"{where}.source.type")


def _result_text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(_text(b, f"{where}[{i}]") for i, b in
                   enumerate(expect(content, list, where)) if b.get("type") == "text")


def _turn(raw: Any, i: int) -> list[Message]:
    """One Anthropic turn as plugbay messages: a user turn's tool results become tool
    messages (before its other content), an assistant turn's tool_use blocks tool calls."""
    at = f"messages[{i}]"
    m = expect(raw, dict, at)
    role = m.get("role")
    if role not in ("user", "assistant"):
        raise WireError(f"{at}.role must be 'user' or 'assistant' (got {role!r}); the "
                        "system prompt goes in 'system'", param=f"{at}.role")
    content = m.get("content")
    if isinstance(content, str):
        return [Message(role=role, content=content)]
    parts: list[TextPart | ImagePart] = []
    calls: list[ToolCall] = []
    tools: list[Message] = []
    reasoning = None
    for j, block in enumerate(expect(content, list, f"{at}.content")):
        where = f"{at}.content[{j}]"
        kind = expect(block, dict, where).get("type")
        if kind == "text":
            parts.append(TextPart(text=_text(block, where)))
        elif kind == "image":
            parts.append(_image(block, where))
        elif kind == "tool_use" and role == "assistant":
            calls.append(ToolCall(id=expect(block.get("id"), str, f"{where}.id"),
                                  name=expect(block.get("name"), str, f"{where}.name"),
                                  arguments=json.dumps(block.get("input") or {})))
        elif kind == "tool_result" and role == "user":
            tools.append(Message(role="tool", content=_result_text(block.get("content"),
                                                                   f"{where}.content"),
                                 tool_call_id=expect(block.get("tool_use_id"), str,
                                                     f"{where}.tool_use_id")))
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            reasoning = block.get("thinking") or reasoning
        else:
            raise WireError(f"{where}.type {kind!r} is not supported in a {role} turn",
                            param=f"{where}.type")
    out = tools
    only_text = all(isinstance(p, TextPart) for p in parts)
    body: str | list[TextPart | ImagePart] | None = (
        "".join(p.text for p in parts if isinstance(p, TextPart)) if only_text else parts)
    if parts or calls:
        out.append(Message(role=role, content=body or None, tool_calls=calls or None,
                           reasoning=reasoning))
    return out


def _tools(raw: Any) -> list[Tool] | None:
    if raw is None:
        return None
    tools = []
    for i, tool in enumerate(expect(raw, list, "tools")):
        at = f"tools[{i}]"
        t = expect(tool, dict, at)
        tools.append(Tool(name=expect(t.get("name"), str, f"{at}.name"),
                          description=t.get("description"),
                          parameters=expect(t.get("input_schema"), dict,
                                            f"{at}.input_schema")))
    return tools or None


def _tool_choice(raw: Any) -> Any:
    if raw is None:
        return None
    kind = expect(raw, dict, "tool_choice").get("type")
    if kind in ("auto", "none"):
        return kind
    if kind == "any":
        return "required"
    if kind == "tool":
        return ToolChoice(name=expect(raw.get("name"), str, "tool_choice.name"))
    raise WireError("tool_choice.type must be auto, any, tool or none",
                    param="tool_choice.type")


def _effort(thinking: Any) -> str | None:
    # Anthropic budgets thinking in tokens; plugbay's neutral knob is an effort level.
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens") or 0
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def messages_call(body: Any, *, counting: bool = False) -> ChatCall:
    """A Messages request body as client arguments, or ``WireError``."""
    b = expect(body, dict, "body")
    unknown = sorted(set(b) - _KNOWN)
    if unknown:
        raise WireError(f"{unknown[0]}: Extra inputs are not permitted", param=unknown[0])
    model = expect(b.get("model"), str, "model")
    messages: list[Message] = []
    system = b.get("system")
    if system is not None:
        text = system if isinstance(system, str) else _result_text(system, "system")
        messages.append(Message(role="system", content=text))
    raw = expect(b.get("messages"), list, "messages")
    if not raw:
        raise WireError("messages: at least one message is required", param="messages")
    for i, turn in enumerate(raw):
        messages += _turn(turn, i)
    params: dict[str, Any] = {}
    if not counting:
        params["max_tokens"] = expect(b.get("max_tokens"), int, "max_tokens")
    for name in ("temperature", "top_p"):
        if b.get(name) is not None:
            params[name] = b[name]
    if b.get("top_k") is not None:
        params["extra"] = {"top_k": expect(b["top_k"], int, "top_k")}
    if b.get("stop_sequences") is not None:
        params["stop"] = expect(b["stop_sequences"], list, "stop_sequences")
    for name, value in (("tools", _tools(b.get("tools"))),
                        ("tool_choice", _tool_choice(b.get("tool_choice"))),
                        ("reasoning_effort", _effort(b.get("thinking")))):
        if value is not None:
            params[name] = value
    meta = b.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("user_id"), str):
        params["user"] = meta["user_id"]
    return ChatCall(model, messages, params, bool(b.get("stream")), True)


def usage_out(usage: Usage | None) -> dict[str, Any]:
    """Anthropic ``usage``: ``input_tokens`` without the cached and cache-written part."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    fresh = max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0)
    return {"input_tokens": fresh, "output_tokens": usage.output_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cached_input_tokens}


def _input(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {"_raw": arguments}  # a model's broken JSON, kept rather than lost


def message_json(completion: Completion, *, id: str, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if completion.reasoning:
        content.append({"type": "thinking", "thinking": completion.reasoning,
                        "signature": ""})
    if completion.text:
        content.append({"type": "text", "text": completion.text})
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
                for c in completion.tool_calls]
    return {"id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": _STOP.get(completion.finish_reason, "end_turn"),
            "stop_sequence": None, "usage": usage_out(completion.usage)}


class EventWriter:
    """plugbay stream events as Anthropic SSE events, for one stream: one content block
    per run of text, of reasoning, or per tool call, each opened and closed in order."""

    def __init__(self, id: str, model: str) -> None:
        self.id, self.model = id, model
        self.index = -1
        self.open: tuple[str, int] | None = None  # (kind, tool index) of the open block
        self.usage: Usage | None = None
        self.stop: str | None = None
        self.started = False

    def first(self) -> bytes:
        self.started = True
        return sse({"type": "message_start", "message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}}, "message_start")

    def _switch(self, kind: str, tool: int, block: dict[str, Any]) -> bytes:
        if self.open == (kind, tool):
            return b""
        out = self._close()
        self.index += 1
        self.open = (kind, tool)
        return out + sse({"type": "content_block_start", "index": self.index,
                          "content_block": block}, "content_block_start")

    def _close(self) -> bytes:
        if self.open is None:
            return b""
        self.open = None
        return sse({"type": "content_block_stop", "index": self.index}, "content_block_stop")

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return sse({"type": "content_block_delta", "index": self.index, "delta": delta},
                   "content_block_delta")

    def event(self, event: Any) -> bytes | None:
        if isinstance(event, TextDelta):
            return (self._switch("text", 0, {"type": "text", "text": ""})
                    + self._delta({"type": "text_delta", "text": event.text}))
        if isinstance(event, ReasoningDelta):
            return (self._switch("thinking", 0, {"type": "thinking", "thinking": ""})
                    + self._delta({"type": "thinking_delta", "thinking": event.text}))
        if isinstance(event, ToolCallDelta):
            head = b""
            if self.open != ("tool", event.index):
                head = self._switch("tool", event.index, {
                    "type": "tool_use", "id": event.id or f"toolu_{self.index + 1}",
                    "name": event.name or "", "input": {}})
            if not event.arguments:
                return head or None
            return head + self._delta({"type": "input_json_delta",
                                       "partial_json": event.arguments})
        if isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, FinishEvent):
            self.stop = _STOP.get(event.reason, "end_turn")
        return None

    def end(self, completion: Completion | None) -> bytes:
        usage = (completion.usage if completion is not None else None) or self.usage
        stop = self.stop or (_STOP.get(completion.finish_reason, "end_turn")
                             if completion is not None else "end_turn")
        return (self._close()
                + sse({"type": "message_delta",
                       "delta": {"stop_reason": stop, "stop_sequence": None},
                       "usage": usage_out(usage)}, "message_delta")
                + sse({"type": "message_stop"}, "message_stop"))
