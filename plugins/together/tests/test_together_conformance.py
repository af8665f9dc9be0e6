"""Together AI against the conformance suite, with a wire that speaks Together's dialect."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire


class TogetherWire(OpenAIWire):
    """Together: ``usage: null`` on every chunk until the finishing one carries it, ``eos``
    as a finish reason in streams, and ``GET /v1/models`` as a bare JSON array with
    ``pricing`` in USD per million tokens."""

    def usage(self, usage: dict[str, int]) -> dict[str, Any]:
        return {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"]}

    def chunk(self, model: str, delta: dict[str, Any], finish: str | None = None,
              ) -> dict[str, Any]:
        data = super().chunk(model, delta, finish)
        choice = data["choices"][0]
        choice.update(text=delta.get("content") or "", logprobs=None, seed=None)
        choice["delta"] = {"token_id": 1234, "role": "assistant", "tool_calls": None,
                           **delta}
        data["usage"] = None
        return data

    def stream_events(self, model: str, deltas: list[dict[str, Any]], finish: str,
                      usage: dict[str, int]) -> list[Any]:
        events: list[Any] = [self.chunk(model, d) for d in deltas]
        last = self.chunk(model, {"content": ""}, "eos" if finish == "stop" else finish)
        last["usage"] = self.usage(usage)  # usage rides on the finishing chunk
        return [*events, last, self.done]

    def model_entry(self, model_id: str, **pricing: float) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000, "type": "chat",
                "running": False, "display_name": f"Fake {model_id}", "organization": "Fake",
                "link": f"https://huggingface.co/{model_id}", "license": "apache-2.0",
                "context_length": 131072, "config": {"chat_template": None, "stop": []},
                "pricing": {"hourly": 0, "input": 0.2, "output": 0.6, "base": 0,
                            "finetune": 0, **pricing}}

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        server.add("GET", self.prefix + self.models_path,
                   Reply.json([self.model_entry(i) for i in ids]))


class TestTogetherConformance(ProviderConformance):
    provider = "together"
    model = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    wire = TogetherWire()
    supports_cached_usage = False  # Together reports no cached-token count in this shape
