"""ConverseStream: event stream messages in, plugbay stream events out. Pure.

Event order: ``messageStart``, then per block ``contentBlockStart`` (tool blocks only),
``contentBlockDelta``..., ``contentBlockStop``; then ``messageStop`` (stop reason) and
``metadata`` (usage, metrics), the last frame. A body that ends before both arrived is
a ``StreamError``. An ``exception`` frame raises the typed error. Each payload may hold a
random padding field ``p``, which is ignored with every other unknown field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from plugbay import errors
from plugbay.types import (
    FinishEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from plugbay_bedrock import codec
from plugbay_bedrock.eventstream import EventStreamDecoder, Message

__all__ = ["StreamState", "aiter_events", "raise_exception"]


def raise_exception(message: Message) -> None:
    """Raise the typed error an ``exception`` (or ``error``) frame carries."""
    etype = codec.error_type(message.event_type)
    try:
        data = json.loads(message.payload) if message.payload else {}
    except ValueError:
        data = message.payload.decode("utf-8", "replace")
    text = codec.error_info(data)
    if message.message_type == "error":
        text = str(message.headers.get(":error-message") or text)
    cls = codec.error_class(etype, 500, text)
    if cls is errors.InvalidRequestError and etype != "ValidationException":
        cls = errors.ProviderError  # an unknown mid-stream failure is the server's
    raise cls(text, body=data, code=etype)


class StreamState:
    """Folds ConverseStream events into plugbay stream events."""

    def __init__(self) -> None:
        self.stopped = False  # messageStop seen
        self.done = False  # metadata seen after messageStop
        self.raw_finish: str | None = None
        self.usage: Usage | None = None
        self.extra: dict[str, Any] = {}
        self.text: list[str] = []
        self._calls: dict[int, int] = {}  # contentBlockIndex -> tool call index
        self._reasoning: dict[int, dict[str, Any]] = {}

    def feed(self, event: str, data: dict[str, Any]) -> list[StreamEvent]:
        handler = getattr(self, f"_on_{event}", None)
        return handler(data) if handler is not None else []  # unknown events are ignored

    def _on_contentBlockStart(self, data: dict[str, Any]) -> list[StreamEvent]:
        use = (data.get("start") or {}).get("toolUse")
        if not isinstance(use, dict):
            return []
        index = self._calls.setdefault(int(data.get("contentBlockIndex") or 0), len(self._calls))
        return [ToolCallDelta(index=index, id=use.get("toolUseId"), name=use.get("name"))]

    def _on_contentBlockDelta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        block = int(data.get("contentBlockIndex") or 0)
        if isinstance(delta.get("text"), str):
            self.text.append(delta["text"])
            return [TextDelta(text=delta["text"])] if delta["text"] else []
        if isinstance(delta.get("toolUse"), dict):
            piece = str(delta["toolUse"].get("input") or "")
            index = self._calls.setdefault(block, len(self._calls))
            return [ToolCallDelta(index=index, arguments=piece)] if piece else []
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            kept = self._reasoning.setdefault(block, {})
            if reasoning.get("text"):
                text = kept.setdefault("reasoningText", {})
                text["text"] = text.get("text", "") + reasoning["text"]
                return [ReasoningDelta(text=reasoning["text"])]
            if reasoning.get("signature"):
                text = kept.setdefault("reasoningText", {})
                text["signature"] = text.get("signature", "") + reasoning["signature"]
            if reasoning.get("redactedContent"):
                kept["redactedContent"] = kept.get("redactedContent", "") + \
                    reasoning["redactedContent"]
        return []

    def _on_messageStop(self, data: dict[str, Any]) -> list[StreamEvent]:
        self.stopped = True
        self.raw_finish = data.get("stopReason")
        if data.get("additionalModelResponseFields"):
            self.extra["additional_fields"] = data["additionalModelResponseFields"]
        return []

    def _on_metadata(self, data: dict[str, Any]) -> list[StreamEvent]:
        self.usage = codec.parse_usage(data.get("usage"))
        latency = (data.get("metrics") or {}).get("latencyMs")
        if latency is not None:
            self.extra["latency_ms"] = latency
        for key, name in (("trace", "trace"), ("serviceTier", "service_tier")):
            if data.get(key):
                self.extra[name] = data[key]
        self.done = self.stopped
        return []

    def finish_event(self) -> FinishEvent:
        extra = dict(self.extra)
        if self._reasoning:
            blocks = [self._reasoning[k] for k in sorted(self._reasoning)]
            extra["provider_data"] = {"bedrock_reasoning": blocks}
        reason = codec.finish_reason(self.raw_finish)
        if self._calls and self.raw_finish in (None, "tool_use"):
            reason = "tool_calls"
        return FinishEvent(reason=reason, raw_reason=self.raw_finish, extra=extra)


def _payload(message: Message) -> dict[str, Any]:
    try:
        value = json.loads(message.payload) if message.payload else {}
    except ValueError:
        raise errors.StreamError(f"malformed JSON in {message.event_type} event: "
                                 f"{message.payload[:100]!r}") from None
    if not isinstance(value, dict):
        raise errors.malformed(f"{message.event_type} event is not a JSON object",
                               message.payload)
    return value


async def aiter_events(chunks: AsyncIterator[bytes], state: StreamState | None = None,
                       ) -> AsyncIterator[StreamEvent]:
    """Raw body bytes (any chunking) in, stream events out; errors carry no provider."""
    state = state if state is not None else StreamState()
    decoder = EventStreamDecoder()
    async for chunk in chunks:
        for message in decoder.feed(chunk):
            kind = message.message_type or "event"
            if kind in ("exception", "error"):
                raise_exception(message)
            if kind != "event":
                continue
            for item in state.feed(message.event_type or "", _payload(message)):
                yield item
        if state.done:
            break
    if not state.done:
        where = "messageStop" if not state.stopped else "metadata"
        cut = f" ({decoder.pending} bytes of a partial frame)" if decoder.pending else ""
        raise errors.StreamError(f"stream ended before {where}{cut}", partial="".join(state.text))
    if state.usage is not None:
        yield UsageEvent(usage=state.usage)
    yield state.finish_event()
