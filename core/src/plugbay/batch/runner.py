"""The local batch runner: many requests through ``client.acomplete``, a bounded window
in flight, each result tied to its ``custom_id`` (``client.batch`` / ``client.abatch``).

* The input is pulled one item at a time, only when there is room in the window, so a
  generator larger than memory is never read ahead (at most ``concurrency`` items live).
* Every call is ``client.acomplete``: routes, retries, budgets, rate limits, the cache
  and the ledger all apply. Each call is tagged ``custom_id`` in the ledger.
* A failure is one ``ItemResult`` with ``error`` set; nothing is raised for the batch.
  A rate limit (429) is not a failure: the window halves (``pacing.Window``), starts
  pause for the server's ``retry_after``, and the item goes back to the front of the
  queue (up to ``rate_retries`` times). ``rpm`` spaces the starts evenly.
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
from plugbay.batch.pacing import Pacer, Window
from plugbay.batch.results import error_line, success_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from plugbay._sync import LoopThread
    from plugbay.client import Client
    from plugbay.types import Completion

__all__ = ["BatchStats", "Control", "ItemResult", "run", "sync_iter"]

# Sampling options that make no sense for a batch item (the runner reads whole answers).
_DROPPED = ("stream", "stream_options")


class ItemResult:
    """One request's outcome: ``completion`` or ``error``, never both."""

    __slots__ = ("attempts", "cached", "completion", "cost", "custom_id", "error", "model")

    def __init__(self, custom_id: str, model: str | None, completion: Completion | None = None,
                 error: BaseException | None = None, attempts: int = 1) -> None:
        self.custom_id = custom_id
        self.model = model
        self.completion = completion
        self.error = error
        self.attempts = attempts
        self.cached = completion is not None and completion.extra.get("cache") == "hit"
        self.cost: float | None = 0.0
        if completion is not None and not self.cached:
            cost = completion.cost
            self.cost = None if cost is None else cost.total

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> dict[str, Any]:
        """This result as one line of OpenAI's batch output format (plus ``plugbay``)."""
        if self.completion is not None:
            return success_line(self.custom_id, self.completion, self.cost, self.cached)
        assert self.error is not None
        return error_line(self.custom_id, self.error, self.model)

    def __repr__(self) -> str:
        what = "ok" if self.ok else type(self.error).__name__
        return f"ItemResult({self.custom_id!r}, {what})"


class BatchStats:
    """What a run did so far; ``str()`` is the one-line summary."""

    def __init__(self, total: int | None = None) -> None:
        self.total = total
        self.done = 0  # results yielded (ok or failed)
        self.failed = 0
        self.skipped = 0  # already done (``skip``)
        self.bad = 0  # malformed input items
        self.rate_limited = 0  # 429s met (each retried, not failed)
        self.not_run = 0  # refused by a budget, or in flight at an abort
        self.cost = 0.0
        self.unpriced = 0  # results whose cost is unknown
        self.started = time.monotonic()
        self.ended: float | None = None
        self.stopped: str | None = None  # why the run ended early
        self.narrowest: int | None = None  # the window's lowest width

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def __str__(self) -> str:
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        money = f"${self.cost:.6f}" + (f" (+{self.unpriced} unpriced)" if self.unpriced else "")
        parts = [f"{self.done} done ({self.failed} failed)"]
        if self.skipped:
            parts.append(f"{self.skipped} already done, skipped")
        if self.bad:
            parts.append(f"{self.bad} malformed, skipped")
        if self.not_run:
            parts.append(f"{self.not_run} not run")
        if self.rate_limited:
            parts.append(f"{self.rate_limited} rate limits retried "
                         f"(window down to {self.narrowest})")
        line = f"{', '.join(parts)}; cost {money}; {rate:.1f} req/s over {self.elapsed:.1f} s"
        return f"{line}; stopped: {self.stopped}" if self.stopped else line


class Control:
    """Ends a run from outside (a signal handler, another task)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.aborted = False
        self._wake: Callable[[], None] = lambda: None

    def bind(self, wake: Callable[[], None]) -> None:
        """Called by ``run``: how to wake it when ``stop`` or ``abort`` is called."""
        self._wake = wake

    def stop(self, reason: str = "stopped") -> None:
        """No new starts; the calls in flight finish and are yielded."""
        self.reason = self.reason or reason
        self._wake()

    def abort(self) -> None:
        """Cancel the calls in flight too (they are not yielded: a rerun sends them)."""
        self.aborted = True
        self.stop("aborted")


class _Item:
    __slots__ = ("attempts", "body", "custom_id", "model", "seq")

    def __init__(self, custom_id: str, body: dict[str, Any]) -> None:
        self.custom_id = custom_id
        self.body = body
        self.model = body.get("model")
        self.attempts = 0
        self.seq = 0


async def _items(source: Iterable[Any] | AsyncIterable[Any]) -> AsyncGenerator[Any, None]:
    if isinstance(source, AsyncIterable):
        async for x in source:
            yield x
    else:
        for x in source:
            yield x


async def run(client: Client, requests: Iterable[Any] | AsyncIterable[Any], *,
              concurrency: int = 16, rpm: float | None = None, progress: bool = True,
              total: int | None = None, skip: set[str] | None = None,
              default_model: str | None = None, rate_retries: int = 20,
              stats: BatchStats | None = None, control: Control | None = None,
              on_bad: Callable[[BadLine], None] | None = None,
              stop_on: tuple[type[BaseException], ...] = (),
              ) -> AsyncGenerator[ItemResult, None]:
    """Run ``requests`` (dicts in either input form, or ``BadLine``s) and yield each
    ``ItemResult`` as it finishes. See the module docstring. An error of a class in
    ``stop_on`` (a missing key, say: every item would fail alike) stops the run like a
    budget refusal instead of failing the item."""
    from plugbay.batch.progress import make_progress

    window, pacer = Window(concurrency), Pacer(rpm)
    stats = stats or BatchStats()
    if total is None and isinstance(requests, Sized):
        total = len(requests)
    stats.total = total
    control = control or Control()
    skip = skip or set()
    bar = make_progress(progress, total, len(skip) if total is not None else 0)
    finished: deque[tuple[_Item, Completion | None, BaseException | None]] = deque()
    wake = asyncio.Event()
    control.bind(wake.set)
    retry: deque[_Item] = deque()
    tasks: set[asyncio.Task[None]] = set()
    source = _items(requests)
    exhausted = False
    started = pulled = 0
    running = 0  # calls in flight (a task's done callback runs a loop turn later)

    async def one(item: _Item) -> None:
        nonlocal running
        body = dict(item.body)
        model, messages = body.pop("model"), body.pop("messages")
        for name in _DROPPED:
            body.pop(name, None)
        tags = body.pop("tags", None) or body.get("metadata") or {}
        try:
            done = await client.acomplete(model, messages,
                                          tags={**tags, "custom_id": item.custom_id}, **body)
        except Exception as exc:  # recorded on the item, never raised for the batch
            finished.append((item, None, exc))
        else:
            finished.append((item, done, None))
        running -= 1
        wake.set()

    async def next_item() -> _Item | None:
        nonlocal exhausted, pulled
        if retry:
            return retry.popleft()
        while not exhausted:
            try:
                raw = await source.__anext__()
            except StopAsyncIteration:
                exhausted = True
                return None
            pulled += 1
            if isinstance(raw, BadLine):
                stats.bad += 1
                if on_bad is not None:
                    on_bad(raw)
                continue
            try:
                norm = normalise(raw, default_model)
            except InputError as exc:
                stats.bad += 1
                if on_bad is not None:
                    cid = raw.get("custom_id") if isinstance(raw, dict) else None
                    on_bad(BadLine(pulled, str(exc),
                                   cid if isinstance(cid, str) else None))
                continue
            if norm["custom_id"] in skip:
                stats.skipped += 1
                continue
            return _Item(norm["custom_id"], norm["body"])
        return None

    try:
        while True:
            if control.aborted and running:  # cancel what is in flight; keep what finished
                stats.not_run += running
                running = 0
                for task in list(tasks):
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            while (control.reason is None and running < window.width
                   and (retry or not exhausted)):
                if rpm is not None or pacer.held:
                    await pacer.wait()
                    if control.reason is not None:
                        break
                item = await next_item()
                if item is None:
                    break
                item.seq, item.attempts = started, item.attempts + 1
                started += 1
                running += 1
                task = asyncio.ensure_future(one(item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if not finished:
                if not running and (control.reason is not None or (exhausted and not retry)):
                    break
                wake.clear()
                await wake.wait()
                continue
            item, completion, error = finished.popleft()
            if isinstance(error, errors.RateLimitError) and error.retryable \
                    and item.attempts <= rate_retries:
                stats.rate_limited += 1
                window.cut(item.seq, started)
                stats.narrowest = window.low
                if error.retry_after:
                    pacer.hold(min(error.retry_after, 60.0))
                retry.append(item)
                continue
            if isinstance(error, errors.BudgetExceededError):
                stats.not_run += 1
                control.stop(f"budget {error.budget!r} reached ({error.message})")
                continue
            if stop_on and isinstance(error, stop_on):
                stats.not_run += 1
                control.stop(f"{type(error).__name__}: {' '.join(str(error).split())}")
                continue
            window.grow()
            result = ItemResult(item.custom_id, item.model, completion, error, item.attempts)
            stats.done += 1
            stats.failed += error is not None
            if result.cost is None:
                stats.unpriced += 1
            else:
                stats.cost += result.cost
            if bar is not None:
                bar.update(stats.done, stats.failed, stats.cost, stats.unpriced, running)
            yield result
    finally:
        stats.not_run += len(retry) + running
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        stats.stopped = stats.stopped or control.reason
        stats.ended = time.monotonic()
        if bar is not None:
            bar.close()
        await source.aclose()


def sync_iter(runner: LoopThread, source: AsyncIterator[ItemResult]) -> Iterator[ItemResult]:
    """``source`` iterated from the caller's thread; leaving the loop early stops it."""
    from plugbay._sync import Relay

    relay = Relay(runner, source, high=64)
    try:
        yield from relay
    finally:
        if not relay.done:
            relay.cancel()
