"""Ollama (native API) against the conformance suite, through its installed entry point."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import ERROR_KINDS, Wire

CREATED = "2025-07-07T20:22:19.184789Z"


class OllamaWire(Wire):
    """``/api/chat`` as Ollama speaks it: NDJSON lines, a final ``done: true`` line with
    counters and nanosecond durations, tool arguments as objects without ids."""

    chat = "/api/chat"

    def line(self, model: str, message: dict[str, Any]) -> dict[str, Any]:
        return {"model": model, "created_at": CREATED,
                "message": {"role": "assistant", **message}, "done": False}

    def final(self, model: str, usage: dict[str, int], message: dict[str, Any] | None = None,
              ) -> dict[str, Any]:
        return {"model": model, "created_at": CREATED,
                "message": {"role": "assistant", "content": "", **(message or {})},
                "done_reason": "stop", "done": True, "total_duration": 4883583458,
                "load_duration": 1334875, "prompt_eval_count": usage["input"],
                "prompt_eval_duration": 342546000, "eval_count": usage["output"],
                "eval_duration": 4535599000}

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        server.add("POST", self.chat, Reply.json(self.final(model, usage, {"content": text})))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        lines = [self.line(model, {"content": p}) for p in pieces]
        lines.append(self.final(model, usage))
        server.add("POST", self.chat, Reply.ndjson(lines))

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        usage = {"input": 169, "output": 15}
        calls = {"content": "", "tool_calls": [{"function": {"name": name,
                                                             "arguments": arguments}}]}
        if not stream:
            server.add("POST", self.chat, Reply.json(self.final(model, usage, calls)))
            return
        server.add("POST", self.chat, Reply.ndjson([self.line(model, calls),
                                                    self.final(model, usage)]))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        message = {"auth": "unauthorized", "not_found": f"model '{model}' not found",
                   "rate_limit": "too many requests", "overloaded": "server busy, please try "
                   "again. maximum pending requests exceeded"}.get(
                       kind, "the model failed to generate a response")
        headers = {"retry-after": "1"} if kind == "rate_limit" else None
        server.add("POST", self.chat, Reply.json({"error": message}, status=status,
                                                 headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        models = [{"name": i, "model": i, "modified_at": "2025-05-10T08:06:48.639712648-07:00",
                   "size": 4683075271, "digest": "0a8c2669",
                   "details": {"parent_model": "", "format": "gguf", "family": "llama",
                               "families": ["llama"], "parameter_size": "3.2B",
                               "quantization_level": "Q4_K_M"}} for i in ids]
        server.add("GET", "/api/tags", Reply.json({"models": models}))
        server.add("GET", "/api/version", Reply.json({"version": "0.12.6"}))
        server.add("GET", "/api/ps", Reply.json({"models": []}))


class TestOllamaConformance(ProviderConformance):
    provider = "ollama"
    model = "llama3.2:latest"
    wire = OllamaWire()
    supports_cached_usage = False  # Ollama reports no cache counters
