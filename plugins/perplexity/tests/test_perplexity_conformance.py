"""Perplexity against the conformance suite: the Agent API (default) and Sonar (legacy)."""

from __future__ import annotations

import json
from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, OpenAIWire, Wire

RESULTS = [{"id": 1, "url": "https://example.org/a", "title": "A", "snippet": "alpha",
            "date": "2026-11-01", "last_updated": "2026-11-02", "source": "web"},
           {"id": 2, "url": "https://example.org/b", "title": "B", "snippet": "beta",
            "date": None, "last_updated": None, "source": "web"}]
ERRORS = {"auth": ("Invalid API key", "forbidden"),
          "not_found": ("invalid model 'no-such/model'", "invalid_model"),
          "rate_limit": ("Rate limit exceeded", "request_rate_limit_exceeded"),
          "server": ("internal error", "internal_error"),
          "overloaded": ("upstream unavailable", "bad_gateway")}


class AgentWire(Wire):
    """Perplexity's Agent API: ``POST /v1/agent`` in Responses format. Streams are
    ``data:`` lines only (no ``event:`` field, no ``[DONE]``), with search progress
    events and null fields; a function call arrives whole on ``output_item.added``."""

    def usage(self, usage: dict[str, int], tools: float = 0.005) -> dict[str, Any]:
        cost_in, cost_out = usage["input"] * 1e-6, usage["output"] * 1e-6
        return {"input_tokens": usage["input"], "output_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"],
                "cost": {"input_cost": cost_in, "output_cost": cost_out,
                         "tool_calls_cost": tools, "total_cost": cost_in + cost_out + tools,
                         "currency": "USD"},
                "tool_calls_details": {"search_web": {"invocation": 1}}}

    def response(self, model: str, output: list[dict[str, Any]], usage: dict[str, int],
                 status: str = "completed") -> dict[str, Any]:
        return {"id": "resp_9f8e7d", "object": "response", "created_at": 1763800000,
                "completed_at": 1763800003, "status": status, "model": model,
                "error": None, "incomplete_details": None,
                "output": [{"type": "search_results", "queries": ["hello world"],
                            "results": RESULTS}, *output],
                "usage": self.usage(usage)}

    def message(self, text: str) -> dict[str, Any]:
        return {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}

    def events(self, model: str, middle: list[dict[str, Any]], final: dict[str, Any],
               ) -> list[Any]:
        created = {**final, "status": "in_progress", "output": [], "usage": None}
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": created},
            {"type": "response.in_progress", "response": created},
            {"type": "response.reasoning.started", "thought": None},
            {"type": "response.reasoning.search_queries", "queries": ["hello world"]},
            {"type": "response.reasoning.search_results", "results": RESULTS},
            {"type": "response.reasoning.stopped", "thought": None},
            *middle,
            {"type": "response.completed", "response": final},
        ]
        return [{**e, "sequence_number": n} for n, e in enumerate(events)]

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        server.add("POST", "/v1/agent", Reply.json(
            self.response(model, [self.message(text)], usage)))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        item = {"type": "message", "id": "msg_1", "role": "assistant",
                "status": "in_progress", "content": []}
        middle = [{"type": "response.output_item.added", "output_index": 1, "item": item}]
        middle += [{"type": "response.output_text.delta", "output_index": 1,
                    "content_index": 0, "item_id": "msg_1", "delta": p} for p in pieces]
        middle += [{"type": "response.output_text.done", "output_index": 1,
                    "content_index": 0, "item_id": "msg_1", "text": "".join(pieces)},
                   {"type": "response.output_item.done", "output_index": 1,
                    "item": self.message("".join(pieces))}]
        final = self.response(model, [self.message("".join(pieces))], usage)
        server.add("POST", "/v1/agent", Reply.sse(self.events(model, middle, final)))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        call = {"type": "function_call", "id": "fc_1", "call_id": "call_7a1b", "name": name,
                "arguments": json.dumps(arguments), "status": "completed"}
        final = self.response(model, [call], {"input": 20, "output": 10})
        if not stream:
            server.add("POST", "/v1/agent", Reply.json(final))
            return
        middle = [{"type": "response.output_item.added", "output_index": 1, "item": call},
                  {"type": "response.output_item.done", "output_index": 1, "item": call}]
        server.add("POST", "/v1/agent", Reply.sse(self.events(model, middle, final)))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        if kind == "not_found":
            status = 400  # an unknown model is a 400 invalid_model
        message, kind_ = ERRORS[kind]
        headers = {"retry-after": "1"} if kind == "rate_limit" else {}
        server.add("POST", "/v1/agent", Reply.json(
            {"error": {"message": message, "type": kind_, "code": status}},
            status=status, headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        data = [{"id": i, "object": "model", "created": 1763800000, "owned_by": "perplexity"}
                for i in ids]
        server.add("GET", "/v1/models", Reply.json({"object": "list", "data": data}))


class TestPerplexityAgentConformance(ProviderConformance):
    provider = "perplexity"
    model = "perplexity/sonar"
    wire = AgentWire()
    secret = "pplx-conformance-SECRET-8f3a9c2b71"
    supports_cached_usage = False  # the Agent API reports no cached input tokens


class SonarWire(OpenAIWire):
    """Legacy Sonar chat completions at ``/chat/completions`` (no ``/v1``): top-level
    ``citations`` and ``search_results``, repeated in every stream chunk together with
    the usage so far (cumulative), and ``usage.cost``."""

    prefix = ""

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"],
                "search_context_size": "low",
                "cost": {"input_tokens_cost": 1.2e-05, "output_tokens_cost": 5e-06,
                         "request_cost": 0.005, "total_cost": 0.005017}}

    def completion(self, model: str, message: dict[str, Any], finish: str,
                   usage: dict[str, int]) -> dict[str, Any]:
        return {**super().completion(model, message, finish, usage),
                "citations": [r["url"] for r in RESULTS], "search_results": RESULTS}

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events: list[Any] = []
        for n, delta in enumerate(deltas):
            so_far = {"input": usage["input"], "output": n + 1}
            chunk = {**self.chunk(model, delta, finish if n == len(deltas) - 1 else None),
                     "citations": [r["url"] for r in RESULTS], "search_results": RESULTS,
                     "usage": self.usage(so_far if n < len(deltas) - 1 else usage)}
            events.append(chunk)
        events.append(self.done)
        return events

    def error_body(self, kind: str, status: int) -> dict[str, Any]:
        message, kind_ = ERRORS[kind]
        return {"error": {"message": message, "type": kind_, "code": status}}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        server.add("GET", "/v1/models", Reply.json({"object": "list", "data": []}))


class TestPerplexitySonarConformance(ProviderConformance):
    provider = "perplexity"
    model = "sonar-pro"
    wire = SonarWire()
    secret = "pplx-conformance-SECRET-8f3a9c2b71"
    supports_cached_usage = False

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {**super().provider_options(server), "api": "sonar"}
