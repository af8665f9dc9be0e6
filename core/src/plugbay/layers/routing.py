"""The routing layer: a call to a route (or ``agent:<name>``) runs the route's plan.

Everything below sees one attempt at a time, with the attempt's target and request on
the ``Call``. A call that names ``provider/model`` already has its target and passes
straight through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from plugbay.pipeline import Layer

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.pipeline import CompleteNext, StreamNext
    from plugbay.routing.router import Router
    from plugbay.types import Completion, StreamEvent

__all__ = ["Routing"]


class Routing(Layer):
    name = "routing"

    def __init__(self, router: Router) -> None:
        self.router = router

    async def complete(self, call: Call, next: CompleteNext) -> Completion:
        if call.target is not None:
            return await next(call)
        return await self.router.complete(self.router.routes[call.route or ""], call, next)

    def stream(self, call: Call, next: StreamNext) -> AsyncIterator[StreamEvent]:
        if call.target is not None:
            return next(call)
        return self.router.stream(self.router.routes[call.route or ""], call, next)

    async def aclose(self) -> None:
        await self.router.aclose()
