"""The Responses wire format (``POST /responses``): request bodies out, responses and
stream events in.

Shared by every provider speaking it: OpenAI and Azure ``/responses``, Perplexity's
Agent API (``/v1/agent``), Ollama's ``/v1/responses``. Pure functions and one small
stream state machine; dialect differences are parameters (where ``response_format``
goes, how a forced tool is named, which optional fields the server accepts). The two
async helpers at the end do the HTTP through ``provider.http`` for a plugin that wants
them; they take the plugin's URL, headers and error mapping as arguments.

Format facts: ``input`` items (``{"role", "content"}`` messages, ``function_call`` and
``function_call_output``) and top-level ``instructions``; ``output`` items (``message``
with ``output_text`` parts, ``function_call``, ``reasoning`` with ``summary``, and
provider-specific ones kept for the caller); ``status`` completed | incomplete | failed |
cancelled (failed and cancelled may come with HTTP 200); stream events carry ``type``
and end with exactly one of ``response.completed`` / ``.incomplete`` / ``.failed`` /
``.cancelled`` or a bare ``error`` event. There is no ``[DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from plugbay import errors
from plugbay.http.sse import SSEDecoder
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
    UsageEvent,
)

if TYPE_CHECKING:
    from plugbay.context import ProviderContext
    from plugbay.http.models import HTTPResponse

__all__ = ["ParsedResponse", "ResponsesStream", "acomplete", "astream", "build_body",
           "encode_input", "failure_status", "finish_event", "parse_response", "parse_usage"]

ErrorFor = Callable[[int, Mapping[str, str], Any], errors.APIError]
"""(status, headers, error body) -> the typed error; the plugin's own mapping."""

_TERMINAL = {"response.completed", "response.incomplete", "response.failed",
             "response.cancelled", "error"}
_INCOMPLETE: dict[str, FinishReason] = {"max_output_tokens": "length",
                                        "content_filter": "content_filter"}
_CODE_STATUS = {"rate_limit_exceeded": 429, "server_error": 500, "invalid_prompt": 400,
                "invalid_request": 400, "invalid_request_error": 400, "not_found": 404,
                "insufficient_quota": 429, "context_length_exceeded": 400}


# ------------------------------------------------------------------ requests


def _content(m: Message) -> str | list[dict[str, Any]]:
    if not isinstance(m.content, list):
        return m.content or ""
    kind = "output_text" if m.role == "assistant" else "input_text"
    return [{"type": "input_image", "image_url": p.data_url()} if isinstance(p, ImagePart)
            else {"type": kind, "text": p.text} for p in m.content]


def encode_input(messages: list[Message], *, system_as_instructions: bool = True,
                 ) -> tuple[list[dict[str, Any]], str | None]:
    """(input items, instructions): tool calls and results become their own items."""
    items: list[dict[str, Any]] = []
    system: list[str] = []
    for m in messages:
        if m.role == "system" and system_as_instructions:
            system.append(m.text())
        elif m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id or "",
                          "output": m.text()})
        else:
            if m.content or not m.tool_calls:
                items.append({"role": m.role, "content": _content(m)})
            items += [{"type": "function_call", "call_id": c.id, "name": c.name,
                       "arguments": c.arguments} for c in m.tool_calls or ()]
    return items, ("\n\n".join(system) if system else None)


def build_body(request: Request, *, stream: bool,
               response_format: Literal["text", "top_level"] = "text",
               tool_choice: Literal["openai", "name"] = "openai",
               optional: tuple[str, ...] = ("user", "metadata"),
               system_as_instructions: bool = True,
               reasoning_summary: str | None = None) -> dict[str, Any]:
    """A Responses request. ``response_format="top_level"`` sends Chat-style
    ``response_format`` (Perplexity) instead of ``text.format`` (OpenAI); ``optional``
    names the request fields the server accepts beyond the core ones (strict servers
    reject unknown fields). ``reasoning_summary`` asks for ``reasoning.summary``
    (``auto``, ``concise``, ``detailed``). ``stop`` and ``seed`` have no Responses
    equivalent and are not sent. ``extra`` merges one level deep, so
    ``extra={"reasoning": {"summary": "auto"}}`` keeps the effort."""
    items, instructions = encode_input(request.messages,
                                       system_as_instructions=system_as_instructions)
    body: dict[str, Any] = {"model": request.model, "input": items}
    if instructions is not None:
        body["instructions"] = instructions
    for name, value in (("temperature", request.temperature), ("top_p", request.top_p),
                        ("max_output_tokens", request.max_tokens)):
        if value is not None:
            body[name] = value
    for name in optional:
        value = getattr(request, name, None)
        if value is not None:
            body[name] = value
    reasoning: dict[str, str] = {}
    if request.reasoning_effort is not None:
        reasoning["effort"] = request.reasoning_effort
    if reasoning_summary:
        reasoning["summary"] = reasoning_summary
    if reasoning:
        body["reasoning"] = reasoning
    if request.tools:
        body["tools"] = [{"type": "function", "name": t.name,
                          **({"description": t.description} if t.description else {}),
                          "parameters": t.parameters,
                          **({"strict": t.strict} if t.strict is not None else {})}
                         for t in request.tools]
    if isinstance(request.tool_choice, ToolChoice):
        body["tool_choice"] = ({"name": request.tool_choice.name} if tool_choice == "name"
                               else {"type": "function", "name": request.tool_choice.name})
    elif request.tool_choice is not None:
        body["tool_choice"] = request.tool_choice
    fmt = request.response_format
    if fmt is not None:
        if fmt.type == "json_schema":
            schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_ or {}}
            if fmt.strict is not None:
                schema["strict"] = fmt.strict
            spec: dict[str, Any] = ({"type": "json_schema", "json_schema": schema}
                                    if response_format == "top_level"
                                    else {"type": "json_schema", **schema})
        else:
            spec = {"type": fmt.type}
        if response_format == "top_level":
            body["response_format"] = spec
        else:
            body["text"] = {"format": spec}
    if stream:
        body["stream"] = True
    return request.merge_extra(body)


# ------------------------------------------------------------------ responses


def parse_usage(data: Mapping[str, Any] | None) -> Usage | None:
    if not data:
        return None
    inp = data.get("input_tokens_details") or {}
    out = data.get("output_tokens_details") or {}
    return Usage(input_tokens=data.get("input_tokens") or 0,
                 output_tokens=data.get("output_tokens") or 0,
                 cached_input_tokens=inp.get("cached_tokens") or 0,
                 reasoning_tokens=out.get("reasoning_tokens") or 0)


@dataclass
class ParsedResponse:
    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: FinishReason = "stop"
    raw_finish: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # every output item, as sent
    annotations: list[dict[str, Any]] = field(default_factory=list)


def _finish(data: Mapping[str, Any], has_calls: bool) -> tuple[FinishReason, str | None]:
    status = data.get("status") or "completed"
    if status == "incomplete":
        reason = (data.get("incomplete_details") or {}).get("reason")
        return _INCOMPLETE.get(reason or "", "other"), reason or status
    if status == "completed":
        return ("tool_calls", "tool_calls") if has_calls else ("stop", "completed")
    return "error", status


def parse_response(data: Mapping[str, Any]) -> ParsedResponse:
    """Text, reasoning summary, tool calls, finish and usage of a response object."""
    out = ParsedResponse(id=data.get("id"), model=data.get("model"),
                         usage=parse_usage(data.get("usage")))
    text: list[str] = []
    thinking: list[str] = []
    for item in data.get("output") or ():
        if not isinstance(item, dict):
            continue
        out.items.append(item)
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    text.append(part.get("text") or "")
                    out.annotations += part.get("annotations") or []
                elif part.get("type") == "refusal":
                    text.append(part.get("refusal") or "")
        elif kind == "function_call":
            out.tool_calls.append(ToolCall(id=item.get("call_id") or item.get("id") or "",
                                           name=item.get("name") or "",
                                           arguments=item.get("arguments") or "{}"))
        elif kind == "reasoning":
            thinking += [s.get("text") or "" for s in item.get("summary") or ()
                         if isinstance(s, dict)]
            thinking += [c.get("text") or "" for c in item.get("content") or ()
                         if isinstance(c, dict) and c.get("type") == "reasoning_text"]
    out.text = "".join(text)
    out.reasoning = "".join(thinking) or None
    out.finish, out.raw_finish = _finish(data, bool(out.tool_calls))
    return out


def failure_status(error: Any, default: int = 500) -> int:
    """An HTTP-like status for an error object that arrived in a 200 body or a stream."""
    if isinstance(error, Mapping):
        code = error.get("code")
        if isinstance(code, int) and 400 <= code <= 599:
            return code
        for key in (code, error.get("type")):
            if isinstance(key, str) and key in _CODE_STATUS:
                return _CODE_STATUS[key]
    return default


def finish_event(reason: FinishReason, raw: str | None,
                 extra: Mapping[str, Any] | None = None) -> FinishEvent:
    """The finish event, carrying the provider's extras into ``Completion.extra``."""
    return FinishEvent(reason=reason, raw_reason=raw, extra=dict(extra or {}))


class ResponsesStream:
    """Turns stream events (parsed JSON) into plugbay events, one event at a time.

    ``terminal`` says a terminal event arrived, ``response`` holds its response object,
    ``failure`` the error object of a failed/cancelled response or ``error`` event.
    Tool calls are numbered in order of appearance; their arguments may come whole on
    ``output_item.added`` (Perplexity), as deltas (OpenAI) or only on ``.done``, and
    are emitted exactly once either way.
    """

    def __init__(self) -> None:
        self.terminal: str | None = None
        self.response: dict[str, Any] | None = None
        self.failure: Any = None
        self._tools: dict[Any, int] = {}  # output_index or item id -> tool index
        self._args_sent: set[int] = set()  # tools whose arguments were (being) emitted
        self._as_deltas: set[int] = set()  # ... of which as argument deltas

    def _tool(self, event: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> int:
        key = event.get("output_index")
        if key is None:
            key = (item or {}).get("id") or event.get("item_id")
        if key not in self._tools:
            self._tools[key] = len(self._tools)
        return self._tools[key]

    def feed(self, event: Mapping[str, Any]) -> list[StreamEvent]:
        kind = event.get("type") or ""
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            delta = event.get("delta")
            return [TextDelta(text=delta)] if delta else []
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = event.get("delta")
            return [ReasoningDelta(text=delta)] if delta else []
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = event.get("item") or {}
            if item.get("type") != "function_call":
                return []
            index = self._tool(event, item)
            out: list[StreamEvent] = []
            args = item.get("arguments") or ""
            send_args = bool(args) and index not in self._args_sent
            if kind.endswith("added"):
                out.append(ToolCallDelta(index=index, id=item.get("call_id") or item.get("id"),
                                         name=item.get("name"),
                                         arguments=args if send_args else ""))
            elif send_args:
                out.append(ToolCallDelta(index=index, arguments=args))
            if send_args:
                self._args_sent.add(index)
            return out
        if kind == "response.function_call_arguments.delta":
            index = self._tool(event)
            delta = event.get("delta") or ""
            if not delta or (index in self._args_sent and index not in self._as_deltas):
                return []  # the arguments already came whole with the item
            self._as_deltas.add(index)
            self._args_sent.add(index)
            return [ToolCallDelta(index=index, arguments=delta)]
        if kind in _TERMINAL:
            self.terminal = kind
            response = event.get("response")
            self.response = response if isinstance(response, dict) else None
            if kind in ("response.failed", "response.cancelled"):
                self.failure = (self.response or {}).get("error") or {
                    "message": f"response {kind.rsplit('.', 1)[-1]}", "code": "server_error"}
            elif kind == "error":
                self.failure = event.get("error") if isinstance(event.get("error"), dict) \
                    else {k: v for k, v in event.items() if k != "type"}
        return []

    def finish(self) -> tuple[ParsedResponse | None, FinishReason, str | None]:
        parsed = parse_response(self.response) if self.response else None
        if parsed is not None:
            return parsed, parsed.finish, parsed.raw_finish
        reason: FinishReason = "length" if self.terminal == "response.incomplete" else "stop"
        if self._tools and reason == "stop":
            reason = "tool_calls"
        return None, reason, self.terminal


# ------------------------------------------------------------------ HTTP helpers


async def acomplete(ctx: ProviderContext, url: str, headers: Mapping[str, str],
                    body: dict[str, Any], error_for: ErrorFor,
                    ) -> tuple[ParsedResponse, dict[str, Any], HTTPResponse]:
    """POST a non-stream request; (parsed, raw response object, HTTP response).
    A failed or cancelled response (even with HTTP 200) raises the typed error."""
    response = await ctx.http.request("POST", url, headers=dict(headers), json=body)
    if response.status >= 400:
        raise error_for(response.status, response.headers, response.content)
    data = response.json_object()
    if data.get("status") in ("failed", "cancelled") or (data.get("error") and
                                                         not data.get("output")):
        failure = data.get("error") or {"message": f"response {data.get('status')}"}
        raise error_for(failure_status(failure), response.headers, {"error": failure})
    if not isinstance(data.get("output"), list):
        raise errors.malformed("response has no output", response.text, provider=ctx.name,
                               status=response.status)
    return parse_response(data), data, response


async def astream(ctx: ProviderContext, url: str, headers: Mapping[str, str],
                  body: dict[str, Any], error_for: ErrorFor,
                  extra_of: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                  headers_extra: Callable[[Mapping[str, str]], dict[str, Any]] | None = None,
                  ) -> AsyncIterator[StreamEvent]:
    """POST a stream request and yield plugbay events until the terminal event.
    ``extra_of`` reads extras from the final response object, ``headers_extra`` from the
    HTTP headers (rate limits); both land in ``Completion.extra``."""
    async with ctx.http.stream("POST", url, headers=dict(headers), json=body) as response:
        if response.status >= 400:
            raise error_for(response.status, response.headers, await response.aread())
        extra = headers_extra(response.headers) if headers_extra else {}
        decoder, state = SSEDecoder(ctx.http.limits.max_event), ResponsesStream()
        async for raw in response.aiter_bytes():
            for sse in decoder.feed(raw):
                if not sse.data or sse.data == "[DONE]":
                    continue
                try:
                    event = json.loads(sse.data)
                except ValueError:
                    raise errors.StreamError(f"malformed JSON in stream: {sse.data[:100]!r}",
                                             provider=ctx.name) from None
                if not isinstance(event, dict):
                    raise errors.malformed("stream event is not a JSON object", sse.data,
                                           provider=ctx.name)
                if "type" not in event and sse.event != "message":
                    event["type"] = sse.event  # a server naming events only in `event:`
                for item in state.feed(event):
                    yield item
                if state.terminal:
                    break
            if state.terminal:
                break
        if not state.terminal:
            raise errors.StreamError("stream ended before its terminal response event",
                                     provider=ctx.name)
    if state.failure is not None:
        raise error_for(failure_status(state.failure), {}, {"error": state.failure})
    parsed, reason, raw_reason = state.finish()
    if parsed is not None and parsed.usage is not None:
        yield UsageEvent(usage=parsed.usage)
    if extra_of and state.response:
        extra.update(extra_of(state.response))
    yield finish_event(reason, raw_reason, extra)
