"""``Client``: the one interface a host application uses.

Models are addressed as ``provider/model``. The first call to a provider loads
its plugin and builds its ``ProviderContext``; the pair is cached, so later calls
go straight to the plugin's hook function with no iteration over plugins.
Every method has an async form (``acomplete``) and a sync form (``complete``);
the sync form runs on a private loop thread and so works inside Jupyter.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from plugbay import errors
from plugbay._aio import deadline, within
from plugbay._fanout import FanOut, Listing
from plugbay._sync import LoopThread
from plugbay.config import Config, load_config
from plugbay.context import ProviderContext
from plugbay.http.client import HTTPClient
from plugbay.plugins import LoadedPlugin, PluginHost, PluginStatus
from plugbay.streaming import AsyncStream, SyncStream

if TYPE_CHECKING:
    from plugbay.budgets import BudgetManager
    from plugbay.http.models import Transport
    from plugbay.ledger import Ledger
    from plugbay.ledger.meter import Meter
    from plugbay.ratelimit import RateLimiter
    from plugbay.routing.breaker import CircuitInfo
    from plugbay.routing.router import Router
    from plugbay.stats import ProviderStats
    from plugbay.types import Completion, Cost, Price, Request

__all__ = ["Client", "Listing"]

log = logging.getLogger("plugbay")
T = TypeVar("T")
MessagesIn = "str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]"

class _Target:
    """A resolved provider instance: its plugin and its context."""

    __slots__ = ("complete", "complete_async", "ctx", "plugin", "prices")

    def __init__(self, plugin: LoadedPlugin, ctx: ProviderContext) -> None:
        self.plugin = plugin
        self.ctx = ctx
        self.complete = plugin.hooks.get("complete")
        self.complete_async = plugin.is_async.get("complete", False)
        self.prices: dict[str, Price | None] = {}


class Client(FanOut):
    """Call any installed provider. Use as a (sync or async) context manager."""

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | Path | None = None,
        *,
        plugins: Iterable[object] | Mapping[str, object] = (),
        env: Mapping[str, str] | None = None,
        transport: Transport | Any = None,
        timeout: float | None = None,
    ) -> None:
        self._env: dict[str, str] = dict(os.environ if env is None else env)
        self.config = load_config(config, self._env)
        self._host = PluginHost(plugins, env=self._env, enable=self.config.plugins.enable,
                                disable=self.config.plugins.disable)
        self._http = HTTPClient(transport)
        self.timeout = timeout if timeout is not None else self.config.timeout
        self._targets: dict[str, _Target] = {}
        self._runner = LoopThread()
        self._router: Router | None = None
        self._meter: Meter | None = None  # ledger, budgets, rate limits, stats (issue 7)

    # ------------------------------------------------------------- resolving

    def _target(self, name: str) -> _Target:
        target = self._targets.get(name)
        if target is None:
            plugin_name = self.config.plugin_for(name)
            try:
                plugin = self._host.get(plugin_name)
            except errors.UnknownProviderError:
                raise errors.UnknownProviderError(name, self.providers()) from None
            table = self.config.provider(name)
            options = table.model_dump(exclude_none=True) if table else {}
            ctx = ProviderContext(name, plugin_name, options=options, env=self._env,
                                  http=self._http)
            target = self._targets[name] = _Target(plugin, ctx)
        return target

    def _split(self, model: str) -> tuple[_Target, str]:
        provider, sep, model_id = model.partition("/")
        if not sep or not model_id or not provider:
            have = ", ".join(self.providers()) or "none"
            raise errors.PluginError(
                f"model {model!r} must be written as 'provider/model', for example "
                f"'openai/gpt-4o-mini' (installed providers: {have})")
        return self._target(provider), model_id

    @property
    def router(self) -> Router:
        """Routes, agents and circuit breakers (built from config on first use)."""
        if self._router is None:
            from plugbay.routing.router import Router

            self._router = Router(self)
        return self._router

    def circuits(self) -> list[CircuitInfo]:
        """A snapshot of every circuit breaker (one per provider instance + model)."""
        return self.router.circuits()

    # ------------------------------------------------------------- metering (issue 7)

    def _metering(self) -> Meter:
        """The ledger/budget/rate-limit/stats hooks, built from config on the first call."""
        if self._meter is None:
            from plugbay.ledger.meter import Meter

            self._meter = Meter(self)
        return self._meter

    @property
    def ledger(self) -> Ledger | None:
        """The usage ledger (``None`` when ``[ledger] path = "off"``)."""
        return self._metering().ledger

    @property
    def budgets(self) -> BudgetManager | None:
        """The configured budgets (``None`` when there are none)."""
        return self._metering().budgets

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self._metering().limiter

    def stats(self) -> dict[str, ProviderStats]:
        """Per provider instance: requests, errors by class, tokens, cost, latency p50/p95."""
        return self._metering().stats.snapshot()

    def rate_limits(self) -> list[dict[str, Any]]:
        """Rate-limit status per provider instance: client limits and the server's figures."""
        meter = self._metering()
        if meter.limiter is not None:
            return meter.limiter.status()
        return [{"provider": name, "server": dict(t.ctx.state.get("rate_limits") or {})}
                for name, t in sorted(self._targets.items()) if t.ctx.state.get("rate_limits")]

    def providers(self) -> list[str]:
        """Every provider name this client can serve: installed plugins and config instances."""
        return sorted(set(self._host.names()) | set(self.config.providers))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def plugins(self) -> list[PluginStatus]:
        """Every plugin with its distribution, version and state (loaded, broken and why)."""
        return self._host.statuses()

    def _request(self, model: str, messages: Any, params: dict[str, Any]) -> Request:
        from plugbay.types import Request, to_messages

        known = Request.model_fields
        extra = {k: params.pop(k) for k in list(params) if k not in known}
        if extra:
            params.setdefault("extra", {}).update(extra)
        return Request(model=model, messages=to_messages(messages), **params)

    # ------------------------------------------------------------- completions

    async def acomplete(self, model: str, messages: Any, *, timeout: float | None = None,
                        **params: Any) -> Completion:
        """Complete ``messages`` (a prompt string, a message, or a list) with ``model``.
        ``tags={"agent": ...}`` label the call in the ledger and budgets (not sent)."""
        meter = self._meter or self._metering()
        call_var = meter.CALL  # (route, tags) of this call, read per attempt
        tags = meter.call_tags(params.pop("tags", None), params, model)
        again = dict(params) if meter.budgets is not None else None  # for a downgrade
        token = None
        try:
            if "/" not in model:  # a route, or agent:<name>
                route = self.router.resolve(model)
                if route is not None:
                    token = call_var.set((route.name, tags))
                    return await self.router.acomplete(route, messages, timeout, params)
            if tags is not None:
                token = call_var.set((None, tags))
            target, model_id = self._split(model)
            request = self._request(model_id, messages, params)
            return await self._complete(target, request, timeout)
        except errors.BudgetExceededError as exc:
            if (again is None or not exc.downgrade_to or exc.downgrade_to == model
                    or (tags and "downgraded_from" in tags)):  # one downgrade, never a loop
                raise
            log.info("budget %s exceeded: %s downgraded to %s", exc.budget, model,
                     exc.downgrade_to)
            if token is not None:
                call_var.reset(token)
                token = None
            return await self.acomplete(exc.downgrade_to, messages, timeout=timeout,
                                        tags={**(tags or {}), "downgraded_from": model},
                                        **again)
        finally:
            if token is not None:
                call_var.reset(token)

    async def _complete(self, target: _Target, request: Request,
                        timeout: float | None) -> Completion:
        """One provider call, metered: budgets/limits before, ledger/stats after."""
        meter = self._meter or self._metering()
        ticket = await meter.begin(target, request, False)
        try:
            completion = await self._call(target, request, timeout)
        except BaseException as exc:
            await meter.failed(ticket, exc)
            raise
        await meter.done(ticket, completion)
        return completion

    async def _call(self, target: _Target, request: Request,
                    timeout: float | None) -> Completion:
        fn = target.complete or target.plugin.impl("complete")
        started = time.perf_counter()
        limit = timeout if timeout is not None else self.timeout
        try:
            if limit is None:
                result = fn(request=request, provider=target.ctx)
                if target.complete_async or isinstance(result, Awaitable):
                    result = await result
            else:
                async with within(limit):
                    result = fn(request=request, provider=target.ctx)
                    if target.complete_async or isinstance(result, Awaitable):
                        result = await result
        except TimeoutError:
            raise errors.TimeoutError(f"no answer within {limit} s", provider=target.ctx.name,
                                      ) from None
        completion: Completion = result
        completion.latency = time.perf_counter() - started
        completion.provider = target.ctx.name
        if completion.price is None:
            completion.price = self._price(target, request.model)
        return completion

    def complete(self, model: str, messages: Any, *, timeout: float | None = None,
                 **params: Any) -> Completion:
        """Sync form of :meth:`acomplete`."""
        return self._runner.run(self.acomplete(model, messages, timeout=timeout, **params))

    def astream(self, model: str, messages: Any, *, timeout: float | None = None,
                **params: Any) -> AsyncStream:
        """Stream ``model``'s answer. Iterate for events; ``.completion`` after the end."""
        meter = self._meter or self._metering()
        tags = meter.call_tags(params.pop("tags", None), params, model)
        ask = (messages, dict(params)) if meter.budgets is not None else None
        switched: list[AsyncStream] = []  # the downgraded stream, when a budget said so

        def downgrade(exc: errors.BudgetExceededError) -> AsyncStream | None:
            alt = self._downgrade_stream(exc, model, tags, ask, timeout)
            if alt is not None:
                switched.append(alt)
            return alt

        if "/" not in model:  # a route, or agent:<name>
            route = self.router.resolve(model)
            if route is not None:
                return meter.routed_stream(self.router.astream(route, messages, timeout, params),
                                           route.name, tags, ask, downgrade, switched)
        target, model_id = self._split(model)
        request = self._request(model_id, messages, params)
        fn = target.plugin.impl("stream")
        limit = timeout if timeout is not None else self.timeout

        def open_() -> AsyncIterator[Any]:
            events = fn(request=request, provider=target.ctx)
            events = deadline(events, limit, target.ctx.name) if limit else events
            return meter.stream(target, request, events, stream, tags,  # metered (issue 7)
                                downgrade)

        def done(completion: Completion) -> Completion:
            if switched and switched[0].completion is not None:
                return switched[0].completion  # the cheaper model's, with its own price
            completion.price = self._price(target, request.model)
            return completion

        stream = AsyncStream(open_, model=model_id, provider=target.ctx.name, on_done=done)
        return stream

    def _downgrade_stream(self, exc: errors.BudgetExceededError, model: str,
                          tags: dict[str, str] | None, ask: tuple[Any, dict[str, Any]] | None,
                          timeout: float | None) -> AsyncStream | None:
        """The same stream on the budget's ``downgrade_to``, once; ``None``: raise."""
        if (ask is None or not exc.downgrade_to or exc.downgrade_to == model
                or (tags and "downgraded_from" in tags)):
            return None
        log.info("budget %s exceeded: %s downgraded to %s", exc.budget, model,
                 exc.downgrade_to)
        messages, params = ask
        return self.astream(exc.downgrade_to, messages, timeout=timeout,
                            tags={**(tags or {}), "downgraded_from": model}, **dict(params))

    def stream(self, model: str, messages: Any, *, timeout: float | None = None,
               **params: Any) -> SyncStream:
        """Sync form of :meth:`astream`."""
        return SyncStream(self.astream(model, messages, timeout=timeout, **params), self._runner)

    # ------------------------------------------------------------- prices

    def _price(self, target: _Target, model: str) -> Price | None:
        if model in target.prices:
            return target.prices[model]
        price = self._override(f"{target.ctx.name}/{model}")
        if price is None and target.plugin.has("price"):
            price = target.plugin.hooks["price"](model=model, provider=target.ctx)
        target.prices[model] = price
        return price

    def _override(self, key: str) -> Price | None:
        import datetime as dt

        from plugbay.types import Price

        table = self.config.prices.get(key)
        if table is None:
            return None
        data = table.model_dump()
        data["as_of"] = dt.date.fromisoformat(data["as_of"]) if data["as_of"] else dt.date.today()
        return Price(**data)

    def price(self, model: str) -> Price | None:
        """The price of ``provider/model`` per million tokens, or ``None`` when unknown."""
        target, model_id = self._split(model)
        return self._price(target, model_id)

    def cost(self, completion: Completion) -> Cost | None:
        """The itemised cost of a completion; ``None`` (and a warning) when unknown."""
        if completion.price is None:
            try:
                completion.price = self._price(self._target(completion.provider),
                                               completion.model)
            except errors.PluginError:
                completion.price = None
        cost = completion.cost
        if cost is None:
            log.warning("cost unknown for %s/%s: %s", completion.provider, completion.model,
                        "no usage reported" if completion.usage is None else "no price known")
        return cost

    # ------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        """Close the connection pool of the running loop (and the sync loop's)."""
        if self._router is not None:
            await self._router.aclose()
        if self._meter is not None:
            await self._meter.aclose()  # flush the ledger, close shared-state connections
        await self._http.aclose()
        self.close()

    def close(self) -> None:
        if self._meter is not None and self._meter.ledger is not None:
            self._meter.ledger.flush()  # pending ledger rows are written before close returns
        if self._runner.started:
            if self._meter is not None:
                self._runner.run(self._meter.aclose())
            if self._router is not None:
                self._runner.run(self._router.aclose())
            self._runner.run(self._http.aclose())
            self._runner.stop()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
