"""An in-process provider for the micro measures: it answers at once, so what is timed is
plugbay's own path. ``complete`` returns a completion with usage (and ``price`` a price),
so a ledger records a cost; ``stream`` yields ``chunks`` one-word text deltas, usage and a
finish event, all built once. ``calls`` counts the calls that reached the plugin (a cache
hit must not)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugbay import hookimpl
from plugbay.types import Completion, FinishEvent, Price, TextDelta, Usage, UsageEvent

NAME = "echo"
PRICE = Price(input=1.0, output=2.0, as_of=dt.date(2026, 11, 1), source="bench")
_USAGE = Usage(input_tokens=12, output_tokens=3)


class Echo:
    name = NAME

    def __init__(self, chunks: int = 200) -> None:
        self.calls = 0
        text = TextDelta(text=" x")
        self.events = [*([text] * chunks), UsageEvent(usage=_USAGE), FinishEvent(reason="stop")]

    @hookimpl
    async def complete(self, request: Any, provider: Any) -> Completion:
        self.calls += 1
        return Completion.model_construct(
            text="hi", model=request.model, provider=provider.name, tool_calls=[],
            finish_reason="stop", extra={}, usage=_USAGE, price=None, trace=None,
            latency=None, id=None, time_to_first_token=None, reasoning=None,
            raw_finish_reason="stop")

    @hookimpl
    async def stream(self, request: Any, provider: Any) -> Any:
        self.calls += 1
        for event in self.events:
            yield event

    @hookimpl
    def price(self, model: str, provider: Any) -> Price:
        return PRICE
