"""Run coroutines from synchronous code, even inside a running event loop (Jupyter).

Each ``Client`` owns one ``LoopThread``: a daemon thread running a private event
loop, started on the first sync call. Sync calls submit their coroutine there
and wait, so they never touch (or block on) the caller's own loop.

``Relay`` iterates an async iterator from the caller's thread without one round trip
per item: a task on the loop thread reads ahead into a thread-safe queue, at most
``high`` items unread, and the caller takes from it (issue 12: the per-chunk round
trip cost ~80 µs). asyncio is imported on the first sync call, not with plugbay.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

__all__ = ["LoopThread", "Relay"]


class LoopThread:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            with self._lock:
                if self._loop is None:
                    import asyncio

                    loop = asyncio.new_event_loop()
                    ready = threading.Event()

                    def run() -> None:
                        asyncio.set_event_loop(loop)
                        loop.call_soon(ready.set)
                        loop.run_forever()

                    self._thread = threading.Thread(target=run, name="plugbay-sync", daemon=True)
                    self._thread.start()
                    ready.wait()
                    self._loop = loop
        return self._loop

    def check_caller(self) -> None:
        """Refuse a sync call from the loop thread itself: it would wait on itself forever."""
        if self._thread is not None and threading.current_thread() is self._thread:
            raise RuntimeError("sync plugbay API called from inside its own loop thread")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and wait for it; Ctrl-C cancels it."""
        import asyncio
        import concurrent.futures

        try:
            self.check_caller()
        except RuntimeError:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except (KeyboardInterrupt, concurrent.futures.CancelledError):
            future.cancel()
            raise

    @property
    def started(self) -> bool:
        return self._loop is not None

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        import asyncio

        try:  # a stream left open (say a Relay's pump) is cancelled, so its upstream closes
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout=5)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        loop.close()


async def _cancel_all() -> None:
    import asyncio

    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2)
    for task in tasks:  # retrieved, so none is logged as "never retrieved"
        if task.done() and not task.cancelled():
            task.exception()


class _End:
    """The last item a relay hands over: the source ended, or raised ``exc``."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException | None = None) -> None:
        self.exc = exc


class Relay(Generic[T]):
    """Iterate ``source`` (an async iterator) from a thread other than the loop's.

    One task on the loop thread pumps items into a ``queue.SimpleQueue``; ``__next__``
    takes them in the caller's thread and raises what the source raised there. The
    pump pauses while ``high`` items are unread (back-pressure: a slow caller never
    makes it read an unbounded stream into memory) and resumes at ``high // 2``. After
    an item for which ``last(item)`` is true it pulls nothing more until the caller has
    taken it, so a caller who stops there still closes the source before its end (a
    stream stopped early stays "cancelled", not read to completion behind its back).
    Each side writes only its own counter, so no lock is taken per item.
    """

    def __init__(self, runner: LoopThread, source: AsyncIterator[T], *, high: int = 128,
                 last: Callable[[T], bool] | None = None) -> None:
        import queue

        runner.check_caller()
        self._source = source
        self._high = high
        self._last = last
        self._queue: queue.SimpleQueue[T | _End] = queue.SimpleQueue()
        self._get = self._queue.get
        self._empty = queue.Empty
        self._put = 0  # items handed over: written by the pump only
        self._taken = 0  # items taken: written by the caller only
        self._resume = high // 2  # the caller wakes a waiting pump at this many unread
        self._waiting = False  # the pump waits for room
        self._room: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.done = False  # the end was taken
        self._loop = runner.loop
        self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:  # on the loop; call_soon is FIFO, so this runs before any stop
        self._task = self._loop.create_task(self._pump())

    async def _pump(self) -> None:
        import asyncio

        room = self._room = asyncio.Event()
        put, last, limit = self._queue.put, self._last, self._high
        end = _End()
        try:
            async for item in self._source:
                put(item)
                self._put += 1
                if last is not None and last(item):
                    self._resume, limit = 0, 1  # hold until the caller has taken it
                while self._put - self._taken >= limit:
                    room.clear()
                    self._waiting = True
                    if self._put - self._taken >= limit:  # re-check: the caller may have read
                        await room.wait()
        except asyncio.CancelledError:
            raise  # stop() or Ctrl-C; the finally still unblocks a waiting caller
        except BaseException as exc:
            end.exc = exc
        finally:
            put(end)

    def __iter__(self) -> Relay[T]:
        return self

    def __next__(self) -> T:
        if self.done:
            raise StopIteration
        try:
            while True:
                try:
                    # Timed: a Ctrl-C that lands just before the wait begins (the C
                    # handler ran, but the wait was not yet there to be interrupted)
                    # is raised at the next wake-up, not never.
                    item = self._get(True, 0.25)
                    break
                except self._empty:
                    continue
        except KeyboardInterrupt:
            self.cancel()
            raise
        self._taken += 1
        if self._waiting and self._put - self._taken <= self._resume:
            self._waiting = False
            room = self._room
            assert room is not None
            self._loop.call_soon_threadsafe(room.set)
        if isinstance(item, _End):
            self.done = True
            if item.exc is None:
                raise StopIteration
            raise item.exc
        return item

    def cancel(self) -> None:
        """Stop the pump without waiting (Ctrl-C, or an abandoned stream)."""
        if not self.done and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """On the loop: cancel the pump and wait until it has let go of the source."""
        import asyncio

        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait((task,))  # the pump hands errors over; it only ends cancelled
