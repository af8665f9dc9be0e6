"""Anthropic Messages streaming: named SSE events in, plugbay stream events out.

Pure (no HTTP, no auth), shared with every front-end that streams the Messages
format (Claude on Vertex AI ``:streamRawPredict``).

``StreamState().feed(event_name, data) -> list[StreamEvent]``
    One named SSE event. ``done`` turns true at ``message_stop``; ``usage``,
    ``raw_finish``, ``stop_sequence``, ``finish_event()`` and ``provider_data``
    (thinking blocks with signatures, server-tool blocks) are read after it. An
    ``error`` event raises the typed :mod:`plugbay.errors` class; unknown events
    are ignored, as Anthropic's versioning policy asks.
``aiter_events(chunks, state=None) -> AsyncIterator[StreamEvent]``
    Raw response bytes in (any chunking), events out as they complete, then
    ``UsageEvent`` and ``FinishEvent``. Raises ``StreamError`` when the body ends
    before ``message_stop`` or holds malformed JSON. Errors carry no provider name:
    the caller stamps its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from plugbay import errors
from plugbay.http.sse import SSEDecoder
from plugbay.types import (
    FinishEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from plugbay_anthropic import codec

__all__ = ["StreamState", "aiter_events"]


class StreamState:
    """Folds named Messages SSE events into plugbay stream events."""

    def __init__(self) -> None:
        self.done = False
        self.id: str | None = None
        self.model: str | None = None
        self.raw_finish: str | None = None
        self.stop_sequence: str | None = None
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._calls = 0
        self.thinking: list[dict[str, Any]] = []
        self.server: list[dict[str, Any]] = []

    @property
    def usage(self) -> Usage | None:
        return codec.parse_usage(self._usage)

    @property
    def provider_data(self) -> dict[str, Any] | None:
        return codec.provider_data(self.thinking, self.server)

    def finish_event(self) -> FinishEvent:
        # Thinking blocks and their signatures ride on the finish event, so a streamed
        # Completion can be echoed back (Completion.message()) like a complete() one.
        data = self.provider_data
        return FinishEvent(reason=codec.finish_reason(self.raw_finish), raw_reason=self.raw_finish,
                           extra={"provider_data": data} if data else {})

    def feed(self, event: str, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type") or event
        handler = getattr(self, f"_on_{kind}", None)
        return handler(data) if handler is not None else []  # unknown events are ignored

    def _on_error(self, data: dict[str, Any]) -> list[StreamEvent]:
        message, etype = codec.error_info(data)
        status = codec.STATUS_OF.get(etype or "", 500)
        cls = codec.error_class(status, etype, message, data) or errors.error_for_status(status)
        raise cls(message, status=status, body=data, code=etype)

    def _on_message_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        message = data.get("message") or {}
        self.id, self.model = message.get("id"), message.get("model")
        self._usage.update(message.get("usage") or {})
        return []

    def _on_content_block_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        block = dict(data.get("content_block") or {})
        kind = block.get("type")
        state: dict[str, Any] = {"block": block, "json": []}
        self._blocks[data.get("index", 0)] = state
        if kind == "text" and block.get("text"):
            return [TextDelta(text=block["text"])]
        if kind == "thinking" and block.get("thinking"):
            return [ReasoningDelta(text=block["thinking"])]
        if kind == "tool_use":
            state["call"] = self._calls
            self._calls += 1
            return [ToolCallDelta(index=state["call"], id=block.get("id"),
                                  name=block.get("name"), arguments="")]
        return []

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        state = self._blocks.setdefault(data.get("index", 0), {"block": {}, "json": []})
        block = state["block"]
        kind = delta.get("type")
        if kind == "text_delta":
            return [TextDelta(text=delta.get("text") or "")] if delta.get("text") else []
        if kind == "thinking_delta":
            piece = delta.get("thinking") or ""
            block["thinking"] = (block.get("thinking") or "") + piece
            return [ReasoningDelta(text=piece)] if piece else []
        if kind == "signature_delta":
            block["signature"] = (block.get("signature") or "") + (delta.get("signature") or "")
        elif kind == "input_json_delta":
            piece = delta.get("partial_json") or ""
            state["json"].append(piece)
            if piece and "call" in state:  # server tool input is not a client call
                return [ToolCallDelta(index=state["call"], arguments=piece)]
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))
        return []

    def _on_content_block_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        state = self._blocks.get(data.get("index", 0))
        if state is None:
            return []
        block, kind = state["block"], state["block"].get("type")
        if kind in ("thinking", "redacted_thinking"):
            self.thinking.append(block)
        elif kind not in ("text", "tool_use", None):
            if state["json"]:
                block["input"] = codec.tool_input("".join(state["json"]))
            self.server.append(block)
        elif kind == "tool_use" and not "".join(state["json"]) and block.get("input"):
            # The whole input came with the start event: send it as the only fragment.
            return [ToolCallDelta(index=state["call"], arguments=json.dumps(block["input"]))]
        return []

    def _on_message_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        self.raw_finish = delta.get("stop_reason") or self.raw_finish
        self.stop_sequence = delta.get("stop_sequence") or self.stop_sequence
        # Counts here are cumulative totals, so they replace the start figures.
        self._usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        return []

    def _on_message_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        self.done = True
        return []


def _payload(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)  # a real parser: the JSON is padded with whitespace
    except ValueError:
        raise errors.StreamError(f"malformed JSON in stream: {data[:100]!r}") from None
    if not isinstance(value, dict):
        raise errors.malformed("stream event is not a JSON object", data)
    return value


async def aiter_events(chunks: AsyncIterator[bytes], state: StreamState | None = None,
                       ) -> AsyncIterator[StreamEvent]:
    state = state if state is not None else StreamState()
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            for item in state.feed(event.event, _payload(event.data)):
                yield item
            if state.done:
                break
        if state.done:
            break
    if not state.done:
        for event in decoder.close():
            for item in state.feed(event.event, _payload(event.data)):
                yield item
    if not state.done:
        raise errors.StreamError("stream ended without message_stop")
    usage = state.usage
    if usage is not None:
        yield UsageEvent(usage=usage)
    yield state.finish_event()
