"""Budget downgrades: a call a hard budget refuses is sent once to the cheaper route or
model the budget names (``downgrade_to``), never in a loop ([docs/cost.md](cost.md))."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.streaming import AsyncStream
    from plugbay.types import StreamEvent

__all__ = ["downgrading", "may_downgrade"]


def may_downgrade(exc: errors.BudgetExceededError, model: str,
                  tags: dict[str, str] | None, again: dict[str, Any] | None) -> bool:
    """One downgrade to the budget's ``downgrade_to``, never a loop."""
    if (again is None or not exc.downgrade_to or exc.downgrade_to == model
            or (tags and "downgraded_from" in tags)):
        return False
    import logging  # rare: not loaded by `import plugbay`

    logging.getLogger("plugbay").info("budget %s exceeded: %s downgraded to %s",
                                      exc.budget, model, exc.downgrade_to)
    return True


async def downgrading(events: AsyncIterator[StreamEvent], call: Call,
                      ask: tuple[Any, dict[str, Any]], switched: list[AsyncStream],
                      open_stream: Callable[[str, Any, dict[str, str], dict[str, Any]],
                                            AsyncStream]) -> AsyncIterator[StreamEvent]:
    """``events``, or the downgraded stream (``open_stream(model, messages, tags,
    params)``) when a budget refuses before the first event."""
    yielded = False
    try:
        async for event in events:
            yielded = True
            yield event
        return
    except errors.BudgetExceededError as exc:
        messages, params = ask
        if yielded or not may_downgrade(exc, call.model, call.tags, params):
            raise
        alt = open_stream(exc.downgrade_to or "", messages,
                          {**(call.tags or {}), "downgraded_from": call.model}, dict(params))
    switched.append(alt)
    async with alt:
        async for event in alt:
            yield event
