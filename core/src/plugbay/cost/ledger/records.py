"""One ledger row per call: ``UsageRecord``, and the column order every backend shares."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.types import Price, Usage

__all__ = ["COLUMNS", "UsageRecord", "cost_total"]

# The order of values in a row, as the backends insert and select them (schema v3).
COLUMNS: tuple[str, ...] = (
    "ts", "route", "provider", "model", "input_tokens", "output_tokens", "cached_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost", "currency", "latency", "ttft", "status",
    "error", "stream", "tags", "request_id", "prompt", "response", "cache", "saved", "uid",
)


@dataclass(slots=True)
class UsageRecord:
    """What one call used and cost. ``ts`` is the Unix time the call ended.

    ``status`` is ``ok``, ``error`` or ``cancelled``; ``error`` the error class name.
    ``cost`` is ``None`` when the price or the usage is unknown (never a guessed 0).
    ``prompt``/``response`` are filled only when ``[ledger] record_text = true``.
    ``cache`` is ``hit`` or ``miss`` when the response cache saw the call (``None``
    otherwise); a hit costs 0 and ``saved`` holds what the cached answer first cost.
    """

    ts: float
    provider: str
    model: str
    route: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    currency: str = "USD"
    latency: float | None = None
    ttft: float | None = None
    status: str = "ok"
    error: str | None = None
    stream: bool = False
    tags: dict[str, str] | None = field(default=None)
    request_id: str | None = None
    prompt: str | None = None
    response: str | None = None
    cache: str | None = None
    saved: float | None = None
    uid: str | None = None  # set by the writer: a row replayed from the journal is once

    def row(self) -> tuple[Any, ...]:
        """The values in ``COLUMNS`` order (tags as JSON text)."""
        return (self.ts, self.route, self.provider, self.model, self.input_tokens,
                self.output_tokens, self.cached_tokens, self.cache_write_tokens,
                self.reasoning_tokens, self.cost, self.currency, self.latency, self.ttft,
                self.status, self.error, bool(self.stream),
                json.dumps(self.tags, sort_keys=True) if self.tags else None,
                self.request_id, self.prompt, self.response, self.cache, self.saved,
                self.uid)

    def values(self) -> list[Any]:
        """The values in ``COLUMNS`` order, tags as a dict (for the journal's JSON line)."""
        return [self.ts, self.route, self.provider, self.model, self.input_tokens,
                self.output_tokens, self.cached_tokens, self.cache_write_tokens,
                self.reasoning_tokens, self.cost, self.currency, self.latency, self.ttft,
                self.status, self.error, self.stream, self.tags, self.request_id,
                self.prompt, self.response, self.cache, self.saved, self.uid]

    @classmethod
    def from_row(cls, row: tuple[Any, ...] | list[Any]) -> UsageRecord:
        values = dict(zip(COLUMNS, row, strict=True))
        tags = values.pop("tags")
        values["tags"] = json.loads(tags) if isinstance(tags, str) and tags else (tags or None)
        values["stream"] = bool(values["stream"])
        values["ts"] = float(values["ts"])
        for k in ("cost", "latency", "ttft", "saved"):
            if values[k] is not None:
                values[k] = float(values[k])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


def cost_total(usage: Usage, price: Price) -> float | None:
    """``Cost.of(usage, price).total`` without building the model (the ledger's hot path:
    ~0.5 us instead of ~3 us). Same rules: missing rates fall back to input/output,
    ``None`` when the input or output price is unknown."""
    rate_in, rate_out = price.input, price.output
    if rate_in is None or rate_out is None:
        return None
    cached, write, reasoning = (usage.cached_input_tokens, usage.cache_write_tokens,
                                usage.reasoning_tokens)
    fresh = usage.input_tokens - cached - write
    visible = usage.output_tokens - reasoning
    total = (
        (fresh if fresh > 0 else 0) * rate_in
        + cached * (price.cached_input if price.cached_input is not None else rate_in)
        + write * (price.cache_write if price.cache_write is not None else rate_in)
        + (visible if visible > 0 else 0) * rate_out
        + reasoning * (price.reasoning if price.reasoning is not None else rate_out)
    )
    return total / 1_000_000
