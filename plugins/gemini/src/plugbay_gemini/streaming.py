"""Gemini streaming: ``streamGenerateContent`` chunks in, plugbay stream events out.

Pure (no HTTP, no auth), shared by the Gemini API and Vertex AI plugins.

``StreamState().feed(chunk) -> list[StreamEvent]``
    One streamed ``GenerateContentResponse``. ``done`` turns true on a chunk with a
    ``finishReason``; read ``usage``, ``raw_finish``, ``finish_event()`` and
    ``provider_data`` (the parts with their ``thoughtSignature``) afterwards. A
    blocked prompt raises ``ContentFilterError``. A call whose arguments are streamed
    (``partialArgs``, see ``plugbay_gemini.partial_args``) is one ``ToolCallDelta`` with
    its name when it starts and one with the whole arguments when it ends.
``aiter_events(chunks, *, json_array=False, state=None) -> AsyncIterator[StreamEvent]``
    Raw response bytes in (SSE from ``alt=sse``, or the JSON-array framing when
    ``json_array``), events out as chunks complete, then ``UsageEvent`` and
    ``FinishEvent``. There is no sentinel: the body must end (EOF) after a chunk with a
    ``finishReason``, else ``StreamError``. An ``error`` chunk raises its typed error.
    Errors carry no provider name: the caller stamps its own.
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
from plugbay_gemini import codec
from plugbay_gemini.framing import JSONArrayDecoder
from plugbay_gemini.partial_args import PartialCall, streams_args

__all__ = ["StreamState", "aiter_events"]


class StreamState:
    """Folds streamed ``GenerateContentResponse`` chunks into plugbay stream events."""

    def __init__(self) -> None:
        self.done = False
        self.raw_finish: str | None = None
        self.usage: Usage | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.calls = 0
        self.parts: list[dict[str, Any]] = []
        self._signed = False
        self._partial: PartialCall | None = None  # the call whose arguments are arriving

    @property
    def provider_data(self) -> dict[str, Any] | None:
        return {"parts": self.parts} if self._signed else None

    def finish_event(self) -> FinishEvent:
        # The signed parts ride on the finish event, so a streamed Completion echoes them.
        data = self.provider_data
        return FinishEvent(reason=codec.finish_reason(self.raw_finish, has_calls=self.calls > 0),
                           raw_reason=self.raw_finish,
                           extra={"provider_data": data} if data else {})

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        self.id = chunk.get("responseId") or self.id
        self.model = chunk.get("modelVersion") or self.model
        if chunk.get("usageMetadata"):
            self.usage = codec.parse_usage(chunk["usageMetadata"])
        reason = codec.blocked(chunk)
        if reason:
            raise errors.ContentFilterError(f"prompt blocked: {reason}", body=chunk, code=reason)
        cand = codec.candidate(chunk)
        out: list[StreamEvent] = []
        for part in (cand.get("content") or {}).get("parts") or ():
            self._signed = self._signed or "thoughtSignature" in part
            fc = part.get("functionCall")
            if isinstance(fc, dict) and (self._partial is not None or streams_args(fc)
                                         or not (fc.get("name") or fc.get("args"))):
                out += self._streamed_call(part, fc)
                continue
            self.parts.append(part)
            if fc is not None:
                fc = fc or {}
                name = fc.get("name") or ""
                out.append(ToolCallDelta(index=self.calls, name=name,
                                         id=fc.get("id") or codec.tool_call_id(self.id, self.calls,
                                                                         name),
                                         arguments=json.dumps(fc.get("args") or {})))
                self.calls += 1
            elif part.get("thought"):
                if part.get("text"):
                    out.append(ReasoningDelta(text=part["text"]))
            elif part.get("text"):
                out.append(TextDelta(text=part["text"]))
        if cand.get("finishReason"):
            self.raw_finish, self.done = cand["finishReason"], True
            out += self._close()  # a call still open at the end is as whole as it gets
        return out

    def _streamed_call(self, part: dict[str, Any], fc: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        call = self._partial
        if call is None or not call.continues(fc):
            out += self._close()
            if not fc.get("name"):
                return out  # an end marker (``functionCall: {}``) with no call open
            call = self._partial = PartialCall(fc, self.calls, len(self.parts))
            self.parts.append(part)  # replaced by the whole call when it ends
            self.calls += 1
            out.append(ToolCallDelta(index=call.index, name=call.name, id=call.id or
                                     codec.tool_call_id(self.id, call.index, call.name)))
        call.signature = call.signature or part.get("thoughtSignature")
        try:
            call.apply(fc)
        except ValueError as exc:
            raise errors.malformed(f"streamed arguments of {call.name}: {exc}", part) from None
        if not call.open:
            out += self._close()
        return out

    def _close(self) -> list[StreamEvent]:
        call, self._partial = self._partial, None
        if call is None:
            return []
        self.parts[call.part_index] = call.part(self.parts[call.part_index])
        return [ToolCallDelta(index=call.index, arguments=json.dumps(call.args))]


def _loads(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise errors.StreamError(f"malformed JSON in stream: {data[:100]!r}") from None
    if not isinstance(value, dict):
        raise errors.malformed("stream chunk is not a JSON object", data)
    return value


def _decoded(raw: bytes, json_array: bool, sse: SSEDecoder,
             items: JSONArrayDecoder) -> list[dict[str, Any]]:
    if not json_array:
        return [_loads(e.data) for e in sse.feed(raw)]
    try:
        return [c for c in items.feed(raw) if isinstance(c, dict)]
    except ValueError as exc:
        raise errors.StreamError(f"malformed stream: {exc}") from None


async def aiter_events(chunks: AsyncIterator[bytes], *, json_array: bool = False,
                       state: StreamState | None = None) -> AsyncIterator[StreamEvent]:
    state = state if state is not None else StreamState()
    sse, items = SSEDecoder(), JSONArrayDecoder()
    async for raw in chunks:
        for chunk in _decoded(raw, json_array, sse, items):
            failure = codec.chunk_error(chunk)
            if failure is not None:
                raise failure
            for event in state.feed(chunk):
                yield event
    for chunk in [] if json_array else [_loads(e.data) for e in sse.close()]:
        failure = codec.chunk_error(chunk)
        if failure is not None:
            raise failure
        for event in state.feed(chunk):
            yield event
    if not state.done or (json_array and items.pending):
        raise errors.StreamError("stream ended without a finishReason")
    if state.usage is not None:
        yield UsageEvent(usage=state.usage)
    yield state.finish_event()
