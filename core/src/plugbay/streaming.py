"""Stream objects returned by ``Client.astream`` and ``Client.stream``.

Iterate one for events. While it runs it collects the events into a
``Completion`` (text, reasoning, tool calls joined from their fragments, usage,
finish reason), available as ``.completion`` once the stream has ended. A stream
that ends without a ``FinishEvent`` raises ``StreamError`` carrying the partial
text: plugbay never truncates silently.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from plugbay.errors import APIError, StreamError

if TYPE_CHECKING:
    from plugbay._sync import LoopThread, Relay
    from plugbay.types import Completion, StreamEvent, ToolCall, Usage

__all__ = ["AsyncStream", "StreamCollector", "SyncStream"]


class StreamCollector:
    """Folds stream events into a ``Completion``."""

    __slots__ = ("_calls", "_reasoning", "_text", "extra", "finish", "raw_finish", "started",
                 "ttft", "usage")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, list[Any]] = {}
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.raw_finish: str | None = None
        self.extra: dict[str, Any] = {}
        self.started = time.perf_counter()
        self.ttft: float | None = None

    def add(self, event: StreamEvent) -> None:
        kind = event.type
        if kind == "text":
            if self.ttft is None:
                self.ttft = time.perf_counter() - self.started
            self._text.append(event.text)  # type: ignore[union-attr]
        elif kind == "reasoning":
            if self.ttft is None:
                self.ttft = time.perf_counter() - self.started
            self._reasoning.append(event.text)  # type: ignore[union-attr]
        elif kind == "tool_call":
            if self.ttft is None:
                self.ttft = time.perf_counter() - self.started
            call = self._calls.setdefault(event.index, [None, None, []])  # type: ignore[union-attr]
            if event.id:  # type: ignore[union-attr]
                call[0] = event.id  # type: ignore[union-attr]
            if event.name:  # type: ignore[union-attr]
                call[1] = event.name  # type: ignore[union-attr]
            call[2].append(event.arguments)  # type: ignore[union-attr]
        elif kind == "usage":
            self.usage = event.usage  # type: ignore[union-attr]
        elif kind == "finish":
            self.finish = event.reason  # type: ignore[union-attr]
            self.raw_finish = event.raw_reason  # type: ignore[union-attr]
            self.extra.update(event.extra)  # type: ignore[union-attr]

    @property
    def text(self) -> str:
        return "".join(self._text)

    def text_upto(self, n: int) -> str:
        """The text of the first ``n`` text events."""
        return "".join(self._text[:n])

    def tool_calls(self) -> list[ToolCall]:
        from plugbay.types import ToolCall

        return [ToolCall(id=c[0] or f"call_{i}", name=c[1] or "", arguments="".join(c[2]) or "{}")
                for i, c in sorted(self._calls.items())]

    def build(self, *, model: str, provider: str) -> Completion:
        from plugbay.types import Completion

        return Completion(
            text=self.text,
            reasoning="".join(self._reasoning) or None,
            tool_calls=self.tool_calls(),
            finish_reason=self.finish or "other",  # type: ignore[arg-type]
            raw_finish_reason=self.raw_finish,
            usage=self.usage,
            model=model,
            provider=provider,
            latency=time.perf_counter() - self.started,
            time_to_first_token=self.ttft,
            extra=self.extra,
        )


class AsyncStream:
    """An async iterator of events; also an async context manager that closes it."""

    def __init__(
        self,
        open_: Callable[[], AsyncIterator[StreamEvent]],
        *,
        model: str,
        provider: str,
        on_done: Callable[[Completion], Completion] | None = None,
        on_error: Callable[[BaseException], Awaitable[None] | None] | None = None,
    ) -> None:
        self._open = open_
        self._it: AsyncIterator[StreamEvent] | None = None
        self._model = model
        self._provider = provider
        self._on_done = on_done
        self._on_error = on_error
        self.collector = StreamCollector()
        self.completion: Completion | None = None

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._it is None:
            if self.completion is not None:
                raise StopAsyncIteration
            self._it = self._open()
        try:
            event = await self._it.__anext__()
        except StopAsyncIteration:
            self._finish()
            raise
        except APIError as exc:
            if isinstance(exc, StreamError) and not exc.partial:
                exc.partial = self.collector.text
            if exc.provider is None:
                exc.provider = self._provider
            await self._close_iter()
            raise
        self.collector.add(event)
        return event

    def _finish(self) -> None:
        self._it = None
        if self.collector.finish is None:
            raise StreamError(
                "stream ended before the provider's final event; the answer may be truncated",
                provider=self._provider, partial=self.collector.text,
            )
        completion = self.collector.build(model=self._model, provider=self._provider)
        self.completion = self._on_done(completion) if self._on_done else completion

    async def get_completion(self) -> Completion:
        """Drain the stream and return the collected ``Completion``."""
        async for _ in self:
            pass
        assert self.completion is not None
        return self.completion

    @property
    def text(self) -> str:
        return self.collector.text

    async def _close_iter(self) -> None:
        it, self._it = self._it, None
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()

    async def aclose(self) -> None:
        await self._close_iter()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close_iter()


def _is_finish(event: StreamEvent) -> bool:
    return event.type == "finish"


class SyncStream:
    """The synchronous face of an ``AsyncStream``, driven on the client's loop thread.

    Iterating reads ahead on the loop thread through a ``Relay`` (a bounded queue, so
    there is no round trip between threads per event); errors are raised in the
    caller's thread. ``close`` (or leaving ``with``) stops the read-ahead and closes the
    upstream stream.
    """

    def __init__(self, stream: AsyncStream, runner: LoopThread) -> None:
        self._stream = stream
        self._runner = runner
        self._relay: Relay[StreamEvent] | None = None
        self._texts = 0  # text events the caller has taken, for ``text``

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        relay = self._relay
        if relay is None:
            from plugbay._sync import Relay

            relay = self._relay = Relay(self._runner, self._stream, last=_is_finish)
        event = relay.__next__()
        if event.type == "text":
            self._texts += 1
        return event

    @property
    def completion(self) -> Completion | None:
        return self._stream.completion

    @property
    def text(self) -> str:
        """The text of the events taken so far (the read-ahead is not counted)."""
        if self._relay is None or self._relay.done:
            return self._stream.text
        return self._stream.collector.text_upto(self._texts)

    def get_completion(self) -> Completion:
        if self._relay is None:  # nothing taken yet: drain on the loop, no hand-off at all
            return self._runner.run(self._stream.get_completion())
        for _ in self:
            pass
        assert self._stream.completion is not None
        return self._stream.completion

    def close(self) -> None:
        relay = self._relay
        if relay is not None and relay.done and self._stream.completion is not None:
            return  # ran to its end: nothing left open
        self._runner.run(self._aclose())

    async def _aclose(self) -> None:
        if self._relay is not None:
            await self._relay.stop()
        await self._stream.aclose()

    def __del__(self) -> None:
        relay = self._relay
        if relay is not None:  # abandoned mid-stream: let the read-ahead go
            try:
                relay.cancel()
            except Exception:
                pass

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
