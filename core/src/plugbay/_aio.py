"""Small asyncio helpers shared by the client and the router.

``within`` is ``asyncio.timeout`` on 3.11+ and an equivalent on 3.10; ``deadline``
bounds a whole stream; ``describe`` names an exception for reports.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    import asyncio

__all__ = ["close_quietly", "deadline", "describe", "within"]

# asyncio is imported on first use, not with plugbay: `from plugbay import Client` must
# stay cheap (issue 12). By the time these run, a loop is running and asyncio is loaded.
if sys.version_info >= (3, 11):
    def within(delay: float | None) -> asyncio.Timeout:
        """``asyncio.timeout(delay)``."""
        import asyncio

        return asyncio.timeout(delay)
else:  # pragma: no cover - Python 3.10
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def within(delay: float | None) -> AsyncIterator[None]:
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        # 0 (a deadline already passed) times out at the first await, as asyncio.timeout
        handle = (asyncio.get_running_loop().call_later(max(delay, 0.0), task.cancel)
                  if delay is not None else None)
        try:
            yield
        except asyncio.CancelledError:
            if handle is not None and handle.when() <= asyncio.get_running_loop().time():
                raise TimeoutError from None
            raise
        finally:
            if handle is not None:
                handle.cancel()


def describe(exc: BaseException) -> str:
    import asyncio

    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


async def deadline(events: AsyncIterator[Any], limit: float, provider: str,
                    ) -> AsyncIterator[Any]:
    """Bound a whole stream by ``limit`` seconds, closing it when the time is up."""
    end = time.monotonic() + limit
    try:
        while True:
            left = end - time.monotonic()
            try:
                async with within(max(left, 0)):
                    event = await events.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise errors.TimeoutError(f"stream did not finish within {limit} s",
                                          provider=provider) from None
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def close_quietly(events: Any) -> None:
    """Close an async iterator if it can be; an error while closing must not mask the
    outcome that ended it."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            pass
