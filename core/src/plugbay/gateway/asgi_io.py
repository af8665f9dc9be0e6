"""The ASGI side of one answer: send it whole, or as a stream of SSE chunks, and watch
the connection meanwhile, so that a client that goes away cancels the work it asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from plugbay.gateway.surfaces import Answer, Streamed

__all__ = ["Receive", "Scope", "Send", "send_answer", "stream_answer", "until_gone"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no")]


async def send_answer(send: Send, answer: Answer, extra: list[tuple[bytes, bytes]]) -> None:
    head = [*(_JSON if answer.body else []), *answer.headers, *extra]
    await send({"type": "http.response.start", "status": answer.status, "headers": head})
    await send({"type": "http.response.body", "body": answer.body})


async def until_gone(work: Awaitable[Any], receive: Receive) -> Any:
    """``work``'s result, or ``None`` when the client disconnects first: then ``work``
    is cancelled, and with it the upstream call (whose budget is then settled). ``work``
    runs in this task; one watcher task cancels it (cheaper than ``asyncio.wait``)."""
    task = asyncio.current_task()
    assert task is not None
    gone = []

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.append(True)
        task.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        result = await work
    except asyncio.CancelledError:
        if not gone:
            raise
        _uncancel(task)
        return None
    finally:
        watcher.cancel()
    if gone:  # the client left just as the answer was ready: a cancel is pending
        _uncancel(task)
        return None
    return result


def _uncancel(task: asyncio.Task[Any]) -> None:
    uncancel = getattr(task, "uncancel", None)  # 3.11+; 3.10 counts no cancellations
    if uncancel is not None:
        uncancel()


async def stream_answer(send: Send, answer: Streamed, extra: list[tuple[bytes, bytes]],
                  receive: Receive) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *extra]})

    async def pump() -> None:
        async for chunk in answer.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    try:
        await until_gone(pump(), receive)
    except OSError:
        pass  # the client went away while a chunk was being written
    finally:
        await answer.chunks.aclose()  # type: ignore[attr-defined]
