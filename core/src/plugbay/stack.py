"""``Stack``: what one client composes from its config, built on the first call.

The layers, outermost first (``docs/architecture.md``, "The pipeline")::

    host layers → cache → routing → admission → metering → dispatch

A layer with nothing to do is left out: no cache configured, no budgets or rate limits,
no routes. Each layer gets what it needs here, at construction: the router, the price
lookups (``Targets``), the ledger writer, the budget manager. None holds the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.config import Config
    from plugbay.cost.control import CostControl
    from plugbay.layers.metering import Metering
    from plugbay.pipeline import Pipeline
    from plugbay.routing.router import Router
    from plugbay.targets import Targets

__all__ = ["Stack"]


class Stack:
    """The pipeline of one client and the parts it is made of, each made on first use."""

    def __init__(self, config: Config, targets: Targets, env: Mapping[str, str],
                 timeout: float | None, host_layers: list[Any],
                 health: Callable[..., Awaitable[Any]]) -> None:
        self.config = config
        self.targets = targets
        self.env = env
        self.timeout = timeout
        self.host_layers = host_layers
        self.health = health
        self.sections: Mapping[str, Any] = config.model_extra or {}
        self._router: Router | None = None
        self._cost: CostControl | None = None
        self._metering: Metering | None = None
        self._pipe: Pipeline | None = None
        self._front: list[Any] | None = None  # host layers and the cache
        self._breakers: Any = None

    @property
    def pipeline(self) -> Pipeline:
        return self._pipe or self.build()

    @property
    def router(self) -> Router:
        if self._router is None:
            from plugbay.routing.router import Router

            self._router = Router(self.config, self.targets, timeout=self.timeout,
                                  health=self.health)
            self._pipe = None  # recompose with the routing layer
        return self._router

    @property
    def cost(self) -> CostControl:
        if self._cost is None:
            from plugbay.cost.control import CostControl

            self._cost = CostControl(self.sections, self.env)
        return self._cost

    @property
    def metering(self) -> Metering:
        if self._metering is None:
            from plugbay.layers.metering import Metering

            cost = self.cost
            otel = None
            if (self.sections.get("otel") or {}).get("enabled"):
                from plugbay.otel import Instrumentation

                otel = Instrumentation()  # the global tracer and meter providers
                self.targets.http.injectors.append(otel.inject)  # traceparent upstream
            self._metering = Metering(cost.ledger, cost.stats, record_text=cost.record_text,
                                      otel=otel)
        return self._metering

    def build(self) -> Pipeline:
        """Compose the layers from config (again after the router is first made)."""
        from plugbay.layers.dispatch import Dispatch
        from plugbay.layers.hosted import load_layers
        from plugbay.pipeline import compose

        sections, cost, metering = self.sections, self.cost, self.metering
        if self._front is None:  # made once: a recompose keeps the cache and its store
            front: list[Any] = [*self.host_layers,
                                *load_layers(sections.get("pipeline"), self.config.source)]
            if sections.get("cache") or "PLUGBAY_CACHE" in self.env:  # off until configured
                from plugbay.cache.settings import build, parse

                settings = parse(sections.get("cache"), self.env, file=self.config.source)
                cache = build(settings, self.env, on_hit=metering.record_hit,
                              timeout=self.timeout)
                if cache is not None:
                    front.append(cache)
            self._front = front
        stack: list[Any] = list(self._front)
        if self._router is None and (sections.get("routes") or sections.get("agents")):
            self.router  # noqa: B018 - made now, so that routed calls have their layer
        admission = None
        if cost.admits:
            from plugbay.layers.admission import Admission

            admission = Admission(cost.budgets, cost.limiter, self.targets)
        routing = self._routing(admission)
        if routing is not None:
            stack.append(routing)
        if admission is not None:
            stack.append(admission)
        stack.append(metering)
        self._pipe = compose(stack, Dispatch(self.timeout))
        return self._pipe

    def _routing(self, admission: Any) -> Any:
        """Routes, and the retries of direct calls; ``None`` when there is neither."""
        from plugbay.layers.routing import Routing
        from plugbay.routing.retry import RetryPolicy

        router = self._router
        if router is not None:
            settings = RetryPolicy.of(router.settings)
        elif self.sections.get("routing"):  # validated as a route's would be
            from plugbay.routing.routes import parse_routing

            settings = RetryPolicy.of(parse_routing(self.config))
        else:  # the defaults: no route models, no pydantic on a cold start
            settings = RetryPolicy()
        if router is None:
            return Routing(None, settings, self.timeout) if settings.retries else None
        cost = self.cost
        if admission is not None and not router.filters:  # steer around refusals
            if cost.budgets is not None:
                router.filters.append(admission.budget_filter)
            if cost.limiter is not None:
                router.filters.append(admission.limit_filter)
        if cost.shared is not None and self._breakers is None:
            from plugbay.routing.shared_breakers import SharedBreakers

            self._breakers = SharedBreakers(cost.shared, router)
        return Routing(router, settings, self.timeout)

    def flush(self) -> None:
        """Write pending ledger rows now."""
        if self._cost is not None:
            self._cost.flush()

    async def aclose(self) -> None:
        if self._pipe is not None:
            await self._pipe.aclose()  # the router's probes, the cache's connections
        elif self._router is not None:
            await self._router.aclose()
        if self._breakers is not None:
            await self._breakers.aclose()
        if self._cost is not None:
            await self._cost.aclose()  # flush the ledger, close shared-state connections
