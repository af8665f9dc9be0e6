"""Active health: every ``health_interval`` seconds, each route provider's ``health``
hook runs once and its verdict trips or closes the targets' breakers. One task per
event loop the router is used on."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugbay.routing.router import Router

__all__ = ["Probes"]


class Probes:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    def ensure(self) -> None:
        loop = asyncio.get_running_loop()
        task = self.tasks.get(loop)
        if task is None or task.done():
            self.tasks[loop] = loop.create_task(self._forever())

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.router.settings.health_interval)
            await self.probe()

    async def probe(self, timeout: float = 10.0) -> None:
        """Run every route provider's ``health`` hook once and feed the breakers."""
        router = self.router
        if router.health is None:
            return
        providers = sorted({t.provider for r in router.routes.values() for t in r.targets})
        results = await asyncio.gather(
            *(router.health(p, timeout=timeout) for p in providers),
            return_exceptions=True)
        for listing in results:
            if isinstance(listing, BaseException):
                continue  # no health hook or no such provider: passive health only
            for health in listing:
                for state in router.states.values():
                    if state.key.partition("/")[0] != health.provider:
                        continue
                    if health.status == "down":
                        state.breaker.trip()
                    elif health.status == "ok":
                        state.breaker.probe_ok()

    async def aclose(self) -> None:
        """Stop the active probes (on every loop they run on)."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, task in list(self.tasks.items()):
            if loop is current:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
            elif not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
        self.tasks.clear()
