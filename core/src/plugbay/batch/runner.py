"""The local batch runner: many requests through ``client.acomplete``, a bounded window
in flight, each result tied to its ``custom_id`` (``client.batch`` / ``client.abatch``).

* The input is pulled one item at a time, only when there is room in the window, so a
  generator larger than memory is never read ahead (at most ``concurrency`` items live).
* Every call is ``client.acomplete``: routes, retries, budgets, rate limits, the cache
  and the ledger all apply. Each call is tagged ``custom_id`` in the ledger.
* A failure is one ``ItemResult`` with ``error`` set; nothing is raised for the batch.
  A rate limit (429) is not a failure: the window halves (``pacing.Window``), starts
  pause for the server's ``retry_after`` (else 50 ms, doubling with the item's
  attempts), and the item goes back to the front of the queue (up to ``rate_retries``
  times). ``rpm`` spaces the starts evenly.
* A hard budget refusal, or ``Control.stop()``, ends the run cleanly: no new starts,
  the calls in flight finish (their results are yielded), the refused ones are not
  yielded (they are not done: a rerun sends them). ``Control.abort()`` cancels what is
  in flight instead.

Results come in the order they finish, not the input order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator, Sized
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.batch.inputs import BadLine, InputError, normalise
from plugbay.batch.outcome import BatchStats, Control, ItemResult
from plugbay.batch.pacing import Pacer, Window

if TYPE_CHECKING:
    from collections.abc import Callable

    from plugbay._sync import LoopThread
    from plugbay.client import Client
    from plugbay.types import Completion

__all__ = ["BatchStats", "Control", "ItemResult", "run", "sync_iter"]

# Sampling options that make no sense for a batch item (the runner reads whole answers).
_DROPPED = ("stream", "stream_options")


class _Item:
    """One request as ``acomplete``'s arguments, built once (a retry reuses them)."""

    __slots__ = ("attempts", "custom_id", "messages", "model", "params", "seq", "task")

    def __init__(self, custom_id: str, body: dict[str, Any]) -> None:
        self.custom_id = custom_id
        self.model = body.pop("model")
        self.messages = body.pop("messages")
        for name in _DROPPED:
            body.pop(name, None)
        tags = body.get("tags") or body.get("metadata") or {}
        body["tags"] = {**tags, "custom_id": custom_id}  # the ledger row names the item
        self.params = body
        self.attempts = 0
        self.seq = 0
        self.task: asyncio.Task[None] | None = None


_END = object()


async def _anext(source: AsyncIterator[Any]) -> Any:
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return _END


class _Run:
    """One run's state; ``results`` is the generator ``run`` returns."""

    def __init__(self, client: Client, requests: Iterable[Any] | AsyncIterable[Any], *,
                 concurrency: int, rpm: float | None, progress: bool, total: int | None,
                 skip: set[str] | None, default_model: str | None, rate_retries: int,
                 stats: BatchStats | None, control: Control | None,
                 on_bad: Callable[[BadLine], None] | None,
                 on_result: Callable[[ItemResult], None] | None,
                 stop_on: tuple[type[BaseException], ...]) -> None:
        from plugbay.batch.progress import make_progress

        self.client = client
        self.window, self.pacer, self.rpm = Window(concurrency), Pacer(rpm), rpm
        self.stats = stats or BatchStats()
        if total is None and isinstance(requests, Sized):
            total = len(requests)
        self.stats.total = total
        self.control = control or Control()
        self.skip = skip or set()
        self.default_model, self.rate_retries, self.stop_on = default_model, rate_retries, stop_on
        self.on_bad, self.on_result = on_bad, on_result
        self.bar = make_progress(progress, total, len(self.skip) if total is not None else 0)
        self.finished: deque[ItemResult] = deque()
        self.wake = asyncio.Event()
        self.control.bind(self.wake.set)
        self.retry: deque[_Item] = deque()
        self.tasks: set[asyncio.Task[None]] = set()
        # a sync iterable is read with next() (no async generator hop per item)
        if isinstance(requests, AsyncIterable):
            self.asource: AsyncIterator[Any] | None = aiter(requests)
            self.source: Iterator[Any] | None = None
        else:
            self.asource, self.source = None, iter(requests)
        self.exhausted = False
        self.started = self.pulled = 0
        self.running = 0  # calls in flight (a task's done callback runs a loop turn later)
        self.failure: BaseException | None = None  # ``on_result`` raised: the run ends

    async def one(self, item: _Item) -> None:
        completion: Completion | None = None
        error: Exception | None = None
        try:
            completion = await self.client.acomplete(item.model, item.messages, **item.params)
        except Exception as exc:  # recorded on the item, never raised for the batch
            error = exc
        if item.task is not None:
            self.tasks.discard(item.task)
        try:
            self.settle(item, completion, error)
        except Exception as exc:  # on_result (the output file) failed: stop everything
            self.failure = self.failure or exc
            self.control.abort()
        self.running -= 1
        if self.failure is None:
            try:
                self.refill()  # the freed slot is taken now, as a semaphore hands it on
            except Exception as exc:  # the caller's input raised: the run ends with it
                self.failure = exc
                self.control.abort()
        self.wake.set()

    def settle(self, item: _Item, completion: Completion | None,
               error: Exception | None) -> None:
        """Retry, stop, or finish ``item``; a finished one goes to ``on_result`` at once,
        with no await between the call's return (its ledger row) and that hand-over."""
        stats = self.stats
        if isinstance(error, errors.RateLimitError) and error.retryable \
                and item.attempts <= self.rate_retries:
            stats.rate_limited += 1
            self.window.cut(item.seq, self.started)
            stats.narrowest = self.window.low
            # the server's hint, else a short doubling pause: the window alone would let
            # a limited upstream be asked again at once
            wait = error.retry_after or 0.05 * 2 ** min(item.attempts - 1, 6)
            self.pacer.hold(min(wait, 60.0))
            self.retry.append(item)
            return
        if isinstance(error, errors.BudgetExceededError):
            stats.not_run += 1
            self.control.stop(f"budget {error.budget!r} reached ({error.message})")
            return
        if self.stop_on and isinstance(error, self.stop_on):
            stats.not_run += 1
            self.control.stop(f"{type(error).__name__}: {' '.join(str(error).split())}")
            return
        result = ItemResult(item.custom_id, item.model, completion, error, item.attempts)
        if self.on_result is not None:
            self.on_result(result)
        self.window.grow()
        stats.done += 1
        stats.failed += error is not None
        if result.cost is None:
            stats.unpriced += 1
        else:
            stats.cost += result.cost
        if self.bar is not None:
            self.bar.update(stats.done, stats.failed, stats.cost, stats.unpriced, self.running)
        self.finished.append(result)

    def take(self, raw: Any) -> _Item | None:
        """One input item, or ``None`` at the input's end (``_END``), or when it is
        malformed (reported) or already done."""
        if raw is _END:
            self.exhausted = True
            return None
        self.pulled += 1
        stats = self.stats
        try:
            if isinstance(raw, BadLine):
                raise InputError(raw.reason)
            norm = normalise(raw, self.default_model)
        except InputError as exc:
            stats.bad += 1
            if self.on_bad is not None:
                cid = raw.get("custom_id") if isinstance(raw, dict) else None
                self.on_bad(raw if isinstance(raw, BadLine) else BadLine(
                    self.pulled, str(exc), cid if isinstance(cid, str) else None))
            return None
        if norm["custom_id"] in self.skip:
            stats.skipped += 1
            return None
        return _Item(norm["custom_id"], norm["body"])

    def next_sync(self) -> _Item | None:
        """The next item of a sync input (a retry first); ``None`` at its end."""
        if self.retry:
            return self.retry.popleft()
        source = self.source
        assert source is not None
        while not self.exhausted:
            item = self.take(next(source, _END))
            if item is not None:
                return item
        return None

    async def next_item(self) -> _Item | None:
        if self.source is not None:
            return self.next_sync()
        if self.retry:
            return self.retry.popleft()
        while not self.exhausted:
            item = self.take(await _anext(self.asource))  # type: ignore[arg-type]
            if item is not None:
                return item
        return None

    async def cancel_in_flight(self) -> None:
        self.stats.not_run += self.running
        self.running = 0
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def room(self) -> bool:
        # results not yet taken count too: a slow consumer holds the window (back-pressure)
        return (self.control.reason is None
                and self.running + len(self.finished) < self.window.width
                and bool(self.retry or not self.exhausted))

    def start(self, item: _Item) -> None:
        item.seq, item.attempts = self.started, item.attempts + 1
        self.started += 1
        self.running += 1
        item.task = task = self.loop.create_task(self.one(item))
        self.tasks.add(task)

    def refill(self) -> bool:
        """Start what the window allows at once, without waiting for the consumer: a sync
        input with no pacing in force. ``False`` when the async path must do it."""
        if self.source is None or self.rpm is not None or self.pacer.held > time.monotonic():
            return False
        while self.room():
            item = self.next_sync()
            if item is None:
                break
            self.start(item)
        return True

    async def launch(self) -> None:
        """Start calls while the window has room and the input has items."""
        if self.refill():
            return
        control, pacer = self.control, self.pacer
        while self.room():
            if self.rpm is not None or pacer.held:
                await pacer.wait()
                if control.reason is not None:
                    return
            item = await self.next_item()
            if item is None:
                return
            self.start(item)

    async def results(self) -> AsyncGenerator[ItemResult, None]:
        finished, control = self.finished, self.control
        self.loop = asyncio.get_running_loop()
        try:
            while True:
                if control.aborted and self.running:  # cancel; keep what finished
                    await self.cancel_in_flight()
                await self.launch()
                if finished:
                    yield finished.popleft()
                    continue
                if not self.running and (control.reason is not None
                                         or (self.exhausted and not self.retry)):
                    break
                self.wake.clear()
                await self.wake.wait()
            if self.failure is not None:
                raise self.failure
        finally:
            await self.cancel_in_flight()
            self.stats.not_run += len(self.retry)
            self.stats.stopped = self.stats.stopped or control.reason
            self.stats.ended = time.monotonic()
            if self.bar is not None:
                self.bar.close()
            close = getattr(self.asource or self.source, "aclose", None)
            if close is not None:  # an async generator given as input
                await close()


def run(client: Client, requests: Iterable[Any] | AsyncIterable[Any], *,
        concurrency: int = 16, rpm: float | None = None, progress: bool = True,
        total: int | None = None, skip: set[str] | None = None,
        default_model: str | None = None, rate_retries: int = 20,
        stats: BatchStats | None = None, control: Control | None = None,
        on_bad: Callable[[BadLine], None] | None = None,
        on_result: Callable[[ItemResult], None] | None = None,
        stop_on: tuple[type[BaseException], ...] = (),
        ) -> AsyncGenerator[ItemResult, None]:
    """Run ``requests`` (dicts in either input form, or ``BadLine``s) and yield each
    ``ItemResult`` as it finishes (see the module docstring).

    ``skip``: custom_ids not to send (already done). ``on_result``: called with each
    result the moment its call returns, before it is yielded (the CLI appends the line
    there: a crash can then lose at most the one result being handed over). An error of
    a class in ``stop_on`` (a missing key: every item would fail alike) stops the run
    like a budget refusal instead of failing the item. ``stats`` and ``control`` let the
    caller watch and stop the run."""
    return _Run(client, requests, concurrency=concurrency, rpm=rpm, progress=progress,
                total=total, skip=skip, default_model=default_model,
                rate_retries=rate_retries, stats=stats, control=control, on_bad=on_bad,
                on_result=on_result, stop_on=stop_on).results()


def sync_iter(runner: LoopThread, source: AsyncIterator[ItemResult]) -> Iterator[ItemResult]:
    """``source`` iterated from the caller's thread; leaving the loop early stops it."""
    from plugbay._sync import Relay

    relay = Relay(runner, source, high=64)
    try:
        yield from relay
    finally:
        if not relay.done:
            relay.cancel()
