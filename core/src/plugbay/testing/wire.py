"""Wires: script a ``FakeServer`` to speak one provider's exact format.

The conformance suite asks a wire for scenarios (a completion, a stream, a tool
call, an error, a model list) and never knows the format itself. A plugin with
its own protocol writes its own ``Wire`` subclass; OpenAI-compatible plugins
reuse ``OpenAIWire`` and override only their quirks (comment lines, extra
fields, error shapes). ``ResponsesWire`` speaks OpenAI's Responses API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest, Route

__all__ = ["ERROR_KINDS", "WRONG_FRAMES", "WRONG_SHAPES", "OpenAIWire", "ResponsesWire", "Wire"]

# kind -> (HTTP status, the plugbay error class name it must map to)
ERROR_KINDS: dict[str, tuple[int, str]] = {
    "auth": (401, "AuthenticationError"),
    "not_found": (404, "ModelNotFoundError"),
    "rate_limit": (429, "RateLimitError"),
    "server": (500, "ProviderError"),
    "overloaded": (503, "OverloadedError"),
}

# 200 bodies that parse as JSON yet are no answer: each must raise MalformedResponseError,
# never pass as an empty success.
WRONG_SHAPES: dict[str, bytes] = {"empty_object": b"{}", "null": b"null", "empty_array": b"[]"}
# Stream frames that are JSON but not an object: no provider's frame looks like these.
WRONG_FRAMES: dict[str, bytes] = {"null": b"null", "array": b"[]"}
_ANY_USAGE = {"input": 1, "output": 1, "cached": 0}


def _added(server: FakeServer, script: Callable[[], None], what: str) -> list[Route]:
    """The routes ``script`` adds (or replaces) on ``server``."""
    before = server.routes  # held, so no old route's id can be reused meanwhile
    script()
    added = [r for r in server.routes if not any(r is b for b in before)]
    if not added:
        raise NotImplementedError(f"Wire.{what} added no route; override the malformed-"
                                  "body methods of this wire")
    return added


def _content_type(reply: Any) -> str:
    headers = reply.headers if isinstance(reply, Reply) else ()
    return next((v.lower() for k, v in headers if k.lower() == "content-type"), "")


class Wire:
    """Base class: every method must be implemented for a provider's protocol."""

    def base_url(self, server_url: str) -> str:
        """What the plugin should be configured with as ``base_url``."""
        return server_url

    def client(self, server: FakeServer, provider: str, **options: Any) -> Any:
        """A ``plugbay.Client`` whose ``provider`` points at ``server``, with an empty
        environment (so the machine's keys never leak in); ``options`` join its table."""
        import plugbay

        table = {"base_url": self.base_url(server.url), **options}
        # One request per call, as the server was scripted (the client's retries are
        # tested on their own): a scripted 429 is seen once, not retried.
        return plugbay.Client({"providers": {provider: table}, "routing": {"retries": 0}},
                              env={})

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        """Non-stream answer ``text`` with ``usage`` (input, output, cached) for ``model``."""
        raise NotImplementedError(
            "step 'request and response handling': Wire.script_completion is not written")

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        """A stream whose text deltas are ``pieces``, then usage, then the terminal event."""
        raise NotImplementedError("step 'streaming': Wire.script_stream is not written")

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        """The model calls tool ``name`` with ``arguments``."""
        raise NotImplementedError("step 'function calling': Wire.script_tool_call is not written")

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        """An error of ``kind`` (a key of ``ERROR_KINDS``) in the provider's shape."""
        raise NotImplementedError("step 'error handling': Wire.script_error is not written")

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        """The provider's model listing with ``ids``, and its health probe answering ok."""
        raise NotImplementedError("step 'model discovery': Wire.script_models is not written")

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        """The non-stream answer comes back 200 with exactly ``body`` (JSON text).

        The default serves it on each route ``script_completion`` adds; override when a
        completion takes more than one request (say, a poll) and ``body`` belongs on one."""
        for route in _added(server, lambda: self.script_completion(
                server, model=model, text="unused", usage=_ANY_USAGE), "script_completion"):
            server.add(route.method, route.path, Reply.raw(body, "application/json"))

    def script_stream_frame(self, server: FakeServer, *, model: str, frame: bytes) -> None:
        """A 200 stream whose one frame carries ``frame`` (JSON text) as its payload.

        The default reframes each route ``script_stream`` adds: SSE as a ``data:`` line,
        NDJSON as a line. Another framing (a binary event stream) overrides this."""
        for route in _added(server, lambda: self.script_stream(
                server, model=model, pieces=["a", "b"], usage=_ANY_USAGE), "script_stream"):
            kind = _content_type(route.replies[0])
            if "event-stream" in kind:
                reply = Reply.sse([b"data: " + frame + b"\n\n"])
            elif "ndjson" in kind:
                reply = Reply.ndjson([frame + b"\n"])
            else:
                raise NotImplementedError(
                    f"no default framing for {kind or 'this stream'}: override "
                    "Wire.script_stream_frame")
            server.add(route.method, route.path, reply)

    def script_outage(self, server: FakeServer) -> None:
        """Every route answers 500, so health must report the provider as not ok."""
        for method in ("GET", "POST", "HEAD"):
            server.add(method, re.compile(r".*"), Reply.json(
                {"error": {"message": "fake outage"}}, status=500))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        """Whether ``request`` carries ``secret`` the way the provider expects."""
        return request.headers.get("authorization") == f"Bearer {secret}"


class OpenAIWire(Wire):
    """Chat Completions as OpenAI speaks it; subclass for a compatible provider's quirks."""

    prefix = "/v1"
    chat_path = "/chat/completions"
    models_path = "/models"
    done = "data: [DONE]\n\n"

    def base_url(self, server_url: str) -> str:
        return server_url + self.prefix

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {
            "prompt_tokens": usage["input"], "completion_tokens": usage["output"],
            "total_tokens": usage["input"] + usage["output"],
            "prompt_tokens_details": {"cached_tokens": usage.get("cached", 0)},
        }

    def completion(self, model: str, message: dict[str, Any], finish: str,
                   usage: dict[str, int]) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000,
                "model": model, "choices": [{"index": 0, "message": message,
                                             "finish_reason": finish, "logprobs": None}],
                "usage": self.usage(usage)}

    def chunk(self, model: str, delta: dict[str, Any], finish: str | None = None,
              ) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
                "model": model, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}]}

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events: list[Any] = [self.chunk(model, {"role": "assistant", "content": ""})]
        events += [self.chunk(model, d) for d in deltas]
        events.append(self.chunk(model, {}, finish))
        events.append({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                       "model": model, "choices": [], "usage": self.usage(usage)})
        events.append(self.done)
        return events

    def route(self) -> str:
        return self.prefix + self.chat_path

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        message = {"role": "assistant", "content": text}
        server.add("POST", self.route(), Reply.json(self.completion(model, message, "stop",
                                                                    usage)))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        events = self.stream_events(model, [{"content": p} for p in pieces], "stop", usage)
        server.add("POST", self.route(), Reply.sse(events))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        args = json.dumps(arguments)
        usage = {"input": 20, "output": 10}
        if not stream:
            call = {"id": "call_abc123", "type": "function",
                    "function": {"name": name, "arguments": args}}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            server.add("POST", self.route(), Reply.json(
                self.completion(model, message, "tool_calls", usage)))
            return
        half = len(args) // 2
        deltas = [
            {"tool_calls": [{"index": 0, "id": "call_abc123", "type": "function",
                             "function": {"name": name, "arguments": ""}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": args[:half]}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]},
        ]
        server.add("POST", self.route(), Reply.sse(self.stream_events(model, deltas,
                                                                      "tool_calls", usage)))

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        code = {"auth": "invalid_api_key", "not_found": "model_not_found",
                "rate_limit": "rate_limit_exceeded"}.get(kind)
        kinds = {"auth": "invalid_request_error", "not_found": "invalid_request_error",
                 "rate_limit": "requests"}
        return {"error": {"message": f"fake {kind} error", "type": kinds.get(kind, "server_error"),
                          "param": None, "code": code}}

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        headers = {"retry-after": "2", "x-request-id": "req_fake"} if kind == "rate_limit" \
            else {"x-request-id": "req_fake"}
        server.add("POST", self.route(), Reply.json(self.error_body(kind, status), status=status,
                                                    headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created": 1700000000, "owned_by": "fake"}
                for i in ids]
        server.add("GET", self.prefix + self.models_path, Reply.json({"object": "list",
                                                                      "data": data}))


class ResponsesWire(OpenAIWire):
    """The Responses API as OpenAI speaks it (``POST /v1/responses``), after the spec
    and the recorded traffic in ../shared/corpus: every SSE event has an ``event:`` line
    and a ``sequence_number``; output items are announced, filled by deltas and closed;
    the stream ends with ``response.completed`` (there is no ``[DONE]``); usage carries
    ``input_tokens_details.cached_tokens`` and ``output_tokens_details.reasoning_tokens``.
    Errors, the model listing and health are as for Chat Completions."""

    responses_path = "/responses"

    def route(self) -> str:
        return self.prefix + self.responses_path

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {"input_tokens": usage["input"],
                "input_tokens_details": {"cached_tokens": usage.get("cached", 0)},
                "output_tokens": usage["output"],
                "output_tokens_details": {"reasoning_tokens": usage.get("reasoning", 0)},
                "total_tokens": usage["input"] + usage["output"]}

    def response(self, model: str, output: list[dict[str, Any]], usage: dict[str, int] | None,
                 status: str = "completed", **more: Any) -> dict[str, Any]:
        return {"id": "resp_fake", "object": "response", "created_at": 1700000000,
                "status": status, "error": None, "incomplete_details": None, "model": model,
                "output": output, "usage": self.usage(usage) if usage else None, **more}

    def message(self, text: str) -> dict[str, Any]:
        return {"id": "msg_fake", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                             "text": text}]}

    def function_call(self, name: str, arguments: str, call_id: str = "call_abc123",
                      ) -> dict[str, Any]:
        return {"id": f"fc_{call_id}", "type": "function_call", "status": "completed",
                "arguments": arguments, "call_id": call_id, "name": name}

    def reasoning(self, summary: list[str]) -> dict[str, Any]:
        return {"id": "rs_fake", "type": "reasoning",
                "summary": [{"type": "summary_text", "text": t} for t in summary]}

    # ------------------------------------------------------------ stream events

    def sse(self, events: list[dict[str, Any]]) -> list[Any]:
        """``event:`` + ``data:`` frames, numbered in order."""
        return [f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n"
                for n, e in enumerate(events)]

    def opening(self, model: str) -> list[dict[str, Any]]:
        started = self.response(model, [], None, status="in_progress")
        return [{"type": "response.created", "response": started},
                {"type": "response.in_progress", "response": started}]

    def text_events(self, pieces: list[str], index: int = 0) -> list[dict[str, Any]]:
        item = self.message("".join(pieces))
        at = {"item_id": item["id"], "output_index": index}
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        return [{"type": "response.output_item.added", "output_index": index,
                 "item": {**item, "status": "in_progress", "content": []}},
                {"type": "response.content_part.added", **at, "content_index": 0, "part": part},
                *({"type": "response.output_text.delta", **at, "content_index": 0, "delta": p,
                   "logprobs": []} for p in pieces),
                {"type": "response.output_text.done", **at, "content_index": 0,
                 "text": "".join(pieces), "logprobs": []},
                {"type": "response.content_part.done", **at, "content_index": 0,
                 "part": {**part, "text": "".join(pieces)}},
                {"type": "response.output_item.done", "output_index": index, "item": item}]

    def call_events(self, item: dict[str, Any], pieces: list[str], index: int = 0,
                    ) -> list[dict[str, Any]]:
        at = {"item_id": item["id"], "output_index": index}
        return [{"type": "response.output_item.added", "output_index": index,
                 "item": {**item, "status": "in_progress", "arguments": ""}},
                *({"type": "response.function_call_arguments.delta", **at, "delta": p}
                  for p in pieces),
                {"type": "response.function_call_arguments.done", **at,
                 "arguments": item["arguments"]},
                {"type": "response.output_item.done", "output_index": index, "item": item}]

    def reasoning_events(self, pieces: list[str], index: int = 0) -> list[dict[str, Any]]:
        item = self.reasoning(["".join(pieces)])
        at = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        part = {"type": "summary_text", "text": ""}
        return [{"type": "response.output_item.added", "output_index": index,
                 "item": {**item, "summary": []}},
                {"type": "response.reasoning_summary_part.added", **at, "part": part},
                *({"type": "response.reasoning_summary_text.delta", **at, "delta": p}
                  for p in pieces),
                {"type": "response.reasoning_summary_text.done", **at, "text": "".join(pieces)},
                {"type": "response.reasoning_summary_part.done", **at,
                 "part": {**part, "text": "".join(pieces)}},
                {"type": "response.output_item.done", "output_index": index, "item": item}]

    def completed(self, model: str, output: list[dict[str, Any]], usage: dict[str, int],
                  ) -> dict[str, Any]:
        return {"type": "response.completed", "response": self.response(model, output, usage)}

    # ------------------------------------------------------------ scenarios

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        server.add("POST", self.route(), Reply.json(
            self.response(model, [self.message(text)], usage)))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        events = [*self.opening(model), *self.text_events(pieces),
                  self.completed(model, [self.message("".join(pieces))], usage)]
        server.add("POST", self.route(), Reply.sse(self.sse(events)))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        args = json.dumps(arguments)
        item, usage = self.function_call(name, args), {"input": 20, "output": 10}
        if not stream:
            server.add("POST", self.route(), Reply.json(self.response(model, [item], usage)))
            return
        half = len(args) // 2
        events = [*self.opening(model), *self.call_events(item, [args[:half], args[half:]]),
                  self.completed(model, [item], usage)]
        server.add("POST", self.route(), Reply.sse(self.sse(events)))
