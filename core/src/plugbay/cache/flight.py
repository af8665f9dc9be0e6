"""Single flight within one process: identical calls in progress wait on one leader.

``Flights`` keeps one table per event loop (a client may serve several loops, and an
asyncio future belongs to one), mapping a cache key to its ``Flight``. The leader fills
the flight (the events of a stream as they pass, the encoded result at the end) and
wakes the followers; each follower waits under its own deadline.

How a flight ends decides what its followers do: ``ok`` they share the result;
``error`` (a ``PlugbayError``, say the provider's 400) they raise the same class; ``retry``
(the leader was cancelled, timed out on its own deadline, or broke) one of them leads.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from plugbay import errors

__all__ = ["Flight", "Flights", "Origin", "copy_error", "ending"]

# Who answered a call: provider instance, model, price, and what the call cost.
Origin = tuple[str, str, Any, "float | None"]


class Flight:
    """One upstream call in progress. ``state`` is ``None`` while it runs."""

    __slots__ = ("entry", "error", "events", "meta", "state", "value", "waiter")

    def __init__(self) -> None:
        self.state: str | None = None
        self.entry: bytes | None = None  # the encoded result, when it could be encoded
        self.value: Any = None  # the live result (a completion), kept when it could not
        self.error: BaseException | None = None
        self.events: list[Any] = []  # a stream's events so far (the leader appends)
        self.meta: Origin | None = None  # a stream's origin, once it ended
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def changed(self, timeout: float | None) -> bool:
        """Wait for the next change (an event, the end); ``False`` if ``timeout`` came first."""
        if self.waiter is None:
            self.waiter = asyncio.get_running_loop().create_future()
        done, _ = await asyncio.wait((self.waiter,), timeout=timeout)
        return bool(done)

    def end(self, state: str, *, entry: bytes | None = None, value: Any = None,
            error: BaseException | None = None) -> None:
        self.state, self.entry, self.value, self.error = state, entry, value, error
        self.wake()


def ending(exc: BaseException) -> str:
    """``error`` when followers should raise what the leader got, else ``retry``."""
    if isinstance(exc, errors.TimeoutError) or not isinstance(exc, errors.PlugbayError):
        return "retry"  # cancelled, out of time, or a bug: someone else may do better
    return "error"


def copy_error(exc: BaseException) -> BaseException:
    """A new exception of the same class and attributes, for one follower to raise (one
    object raised in many tasks would pile their tracebacks onto each other)."""
    cls = type(exc)
    new = cls.__new__(cls)
    new.args = exc.args
    new.__dict__.update(exc.__dict__)
    return new


class Flights:
    """The flights of one layer: a table per event loop, gone with its loop."""

    def __init__(self) -> None:
        self._tables: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                dict[str, Flight]] = weakref.WeakKeyDictionary()

    def table(self) -> dict[str, Flight]:
        loop = asyncio.get_running_loop()
        table = self._tables.get(loop)
        if table is None:
            table = self._tables[loop] = {}
        return table
