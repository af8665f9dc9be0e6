"""``Client``: the one interface a host application uses.

Models are addressed as ``provider/model``, or by a route or ``agent:<name>`` name.
A call becomes a ``Call`` (``plugbay.call``) that runs down the pipeline the client
composes (``plugbay.stack``) on its first call, outermost first (``docs/architecture.md``)::

    host layers → cache → routing → admission → metering → dispatch → plugin → socket

Every method has an async form (``acomplete``) and a sync form (``complete``); the
sync form runs on a private loop thread and so works inside Jupyter.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from plugbay import errors
from plugbay._fanout import FanOut, Listing
from plugbay._sync import LoopThread
from plugbay.call import Call, build_request, call_tags
from plugbay.config import Config, load_config
from plugbay.downgrade import downgrading, may_downgrade
from plugbay.http.client import HTTPClient
from plugbay.plugins import PluginHost, PluginStatus
from plugbay.stack import Stack
from plugbay.streaming import AsyncStream, SyncStream
from plugbay.targets import Targets

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, Iterator
    from pathlib import Path

    from plugbay.batch.runner import ItemResult
    from plugbay.context import ProviderContext
    from plugbay.cost.budgets import BudgetManager
    from plugbay.cost.control import CostControl
    from plugbay.cost.ledger import Ledger
    from plugbay.cost.ratelimit import RateLimiter
    from plugbay.cost.stats import ProviderStats
    from plugbay.embeddings import Embeddings
    from plugbay.http.models import Transport
    from plugbay.layers.metering import Metering
    from plugbay.pipeline import Pipeline
    from plugbay.routing.breaker import CircuitInfo
    from plugbay.routing.router import Router
    from plugbay.tokens import TokenCount
    from plugbay.types import Completion, Cost, Price, StreamEvent

__all__ = ["Client", "Listing"]

T = TypeVar("T")


class Client:
    """Call any installed provider. Use as a (sync or async) context manager.

    ``layers``: the host's own pipeline layers (``plugbay.pipeline.Layer``), outermost
    first; they run before the cache and routing (``docs/writing-a-layer.md``).
    ``host``: a ready ``PluginHost`` instead of discovering entry points (tests)."""

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | Path | None = None,
        *,
        plugins: Iterable[object] | Mapping[str, object] = (),
        env: Mapping[str, str] | None = None,
        transport: Transport | Any = None,
        timeout: float | None = None,
        layers: Iterable[Any] = (),
        host: PluginHost | None = None,
    ) -> None:
        self._env: dict[str, str] = dict(os.environ if env is None else env)
        self.config = load_config(config, self._env)
        self._host = host or PluginHost(plugins, env=self._env,
                                        enable=self.config.plugins.enable,
                                        disable=self.config.plugins.disable)
        self._http = HTTPClient(transport, limits=self.config.http.limits())
        self.timeout = timeout if timeout is not None else self.config.timeout
        self.targets = Targets(self.config, self._host, self._env, self._http)
        self._fan = FanOut(self.targets)
        self._runner = LoopThread()
        self._stack = Stack(self.config, self.targets, self._env, self.timeout,
                            list(layers), self.ahealth)

    # ------------------------------------------------------------- the pipeline

    @property
    def pipeline(self) -> Pipeline:
        """The composed layers (``client.pipeline.names()`` lists them)."""
        return self._stack.pipeline

    @property
    def router(self) -> Router:
        """Routes, agents and circuit breakers (built from config on first use)."""
        return self._stack.router

    @property
    def cost_control(self) -> CostControl:
        """Ledger, stats, budgets, rate limits and shared state, built on first use."""
        return self._stack.cost

    @property
    def metering(self) -> Metering:
        """The metering layer (ledger rows, stats, OpenTelemetry)."""
        return self._stack.metering

    def _call(self, model: str, messages: Any, params: dict[str, Any],
              timeout: float | None, stream: bool) -> Call:
        tags = call_tags(params.pop("tags", None), params, model)
        cache = params.pop("cache", None)
        ttl = params.pop("ttl", None)
        if "/" not in model:  # a route, or agent:<name>
            route = self.router.resolve(model)
            if route is not None:
                key = params.pop("route_key", None)
                request = build_request(route.targets[0].model_id, messages, params)
                return Call(model, request, stream=stream, timeout=timeout, tags=tags,
                            route=route.name, route_key=key, cache=cache, ttl=ttl)
            raise self.router.unknown(model)
        target, model_id = self.targets.split(model)
        request = build_request(model_id, messages, params)
        return Call(model, request, stream=stream, target=target, timeout=timeout, tags=tags,
                    cache=cache, ttl=ttl)

    # ------------------------------------------------------------- completions

    async def acomplete(self, model: str, messages: Any, *, timeout: float | None = None,
                        **params: Any) -> Completion:
        """Complete ``messages`` (a prompt string, a message, or a list) with ``model``.
        ``tags={"agent": ...}`` label the call in the ledger and budgets (not sent);
        ``cache="no-cache"|"no-store"`` and ``ttl=`` steer the response cache."""
        pipe = self._stack.pipeline
        again = dict(params) if self.cost_control.budgets is not None else None
        call = self._call(model, messages, params, timeout, False)
        try:
            return await pipe.complete(call)
        except errors.BudgetExceededError as exc:
            if not may_downgrade(exc, model, call.tags, again):
                raise
            assert again is not None
            return await self.acomplete(exc.downgrade_to or "", messages, timeout=timeout,
                                        tags={**(call.tags or {}), "downgraded_from": model},
                                        **again)

    def complete(self, model: str, messages: Any, *, timeout: float | None = None,
                 **params: Any) -> Completion:
        """Sync form of :meth:`acomplete`."""
        return self._runner.run(self.acomplete(model, messages, timeout=timeout, **params))

    def astream(self, model: str, messages: Any, *, timeout: float | None = None,
                **params: Any) -> AsyncStream:
        """Stream ``model``'s answer. Iterate for events; ``.completion`` after the end."""
        pipe = self._stack.pipeline
        ask = (messages, dict(params)) if self.cost_control.budgets is not None else None
        call = self._call(model, messages, params, timeout, True)
        switched: list[AsyncStream] = []  # the downgraded stream, when a budget said so

        def open_() -> AsyncIterator[StreamEvent]:
            events = pipe.stream(call)
            if ask is None:
                return events
            return downgrading(events, call, ask, switched, lambda alt, messages, tags, params:
                               self.astream(alt, messages, timeout=timeout, tags=tags,
                                            **params))

        def done(completion: Completion) -> Completion:
            if switched and switched[0].completion is not None:
                return switched[0].completion  # the cheaper model's, with its own price
            out = call.outcome
            completion.provider = out.provider or completion.provider
            completion.model = out.model or completion.model
            completion.price = out.price
            completion.trace = out.trace
            return completion

        where = call.target.name if call.target is not None else call.route or model
        stream = AsyncStream(open_, model=call.request.model if call.route is None else model,
                             provider=where, on_done=done)
        call.outcome.collector = stream.collector
        return stream

    def stream(self, model: str, messages: Any, *, timeout: float | None = None,
               **params: Any) -> SyncStream:
        """Sync form of :meth:`astream`."""
        return SyncStream(self.astream(model, messages, timeout=timeout, **params), self._runner)

    # ------------------------------------------------------------- local batches

    def abatch(self, requests: Iterable[Any] | AsyncIterable[Any], *, concurrency: int = 16,
               progress: bool = True, **options: Any) -> AsyncGenerator[ItemResult, None]:
        """Many requests through :meth:`acomplete`, ``concurrency`` at a time; each
        ``ItemResult`` (its ``custom_id``, answer or error) as it finishes. Options and
        rules: ``plugbay.batch.runner.run``, ``docs/batch.md``."""
        from plugbay.batch.runner import run

        return run(self, requests, concurrency=concurrency, progress=progress, **options)

    def batch(self, requests: Iterable[Any], **options: Any) -> Iterator[ItemResult]:
        """Sync form of :meth:`abatch` (a generator of results)."""
        from plugbay.batch.runner import sync_iter

        return sync_iter(self._runner, self.abatch(requests, **options))

    # ------------------------------------------------------------- cost control

    @property
    def ledger(self) -> Ledger | None:
        """The usage ledger (``None`` when ``[ledger] path = "off"``)."""
        return self.cost_control.ledger

    @property
    def budgets(self) -> BudgetManager | None:
        """The configured budgets (``None`` when there are none)."""
        return self.cost_control.budgets

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self.cost_control.limiter

    def stats(self) -> dict[str, ProviderStats]:
        """Per provider instance: requests, errors by class, tokens, cost, latency p50/p95."""
        return self.cost_control.stats.snapshot()

    def rate_limits(self) -> list[dict[str, Any]]:
        """Rate-limit status per provider instance: client limits and the server's figures."""
        limiter = self.cost_control.limiter
        if limiter is not None:
            return limiter.status()
        return [{"provider": name, "server": dict(t.ctx.state.get("rate_limits") or {})}
                for name, t in sorted(self.targets.resolved.items())
                if t.ctx.state.get("rate_limits")]

    def circuits(self) -> list[CircuitInfo]:
        """A snapshot of every circuit breaker (one per provider instance + model)."""
        return self.router.circuits()

    async def acount_tokens(self, model: str, messages: Any, *, tools: Any = None,
                            ) -> TokenCount:
        """The input tokens ``messages`` (and ``tools``) would be for ``model`` (a route
        counts for its first target): the provider's own count where its plugin has one
        (``exact``), else an estimate (``plugbay.tokens``)."""
        from plugbay.tokens import count_tokens

        if "/" not in model:
            route = self.router.resolve(model)
            if route is None:
                raise self.router.unknown(model)
            model = route.targets[0].key
        target, model_id = self.targets.split(model)
        request = build_request(model_id, messages, {"tools": tools} if tools else {})
        return await count_tokens(target, request)

    def count_tokens(self, model: str, messages: Any, *, tools: Any = None) -> TokenCount:
        """Sync form of :meth:`acount_tokens`."""
        return self._runner.run(self.acount_tokens(model, messages, tools=tools))

    async def aembed(self, model: str, inputs: Any, *, dimensions: int | None = None,
                     input_type: str | None = None, encoding: str = "float",
                     timeout: float | None = None, **options: Any) -> Embeddings:
        """Embed ``inputs`` (a list of strings) with ``model``: vectors in input order,
        usage and cost; long lists go in the provider's batches (``plugbay.embed_batches``,
        ``docs/embeddings.md``). ``options``: ``tags``, ``cache``, ``ttl``, ``concurrency``;
        any other goes to the provider's body."""
        from plugbay.embed_batches import embed

        known = {k: options.pop(k) for k in ("tags", "cache", "ttl", "concurrency")
                 if k in options}
        return await embed(self._stack, model, inputs, dimensions=dimensions,
                           input_type=input_type, encoding=encoding, timeout=timeout,
                           extra=options, **known)

    def embed(self, model: str, inputs: Any, *, dimensions: int | None = None,
              input_type: str | None = None, encoding: str = "float",
              timeout: float | None = None, **options: Any) -> Embeddings:
        """Sync form of :meth:`aembed`."""
        return self._runner.run(self.aembed(model, inputs, dimensions=dimensions,
                                            input_type=input_type, encoding=encoding,
                                            timeout=timeout, **options))

    def price(self, model: str) -> Price | None:
        """The price of ``provider/model`` per million tokens, or ``None`` when unknown."""
        return self.targets.price(model)

    def cost(self, completion: Completion) -> Cost | None:
        """The itemised cost of a completion; ``None`` (and a warning) when unknown."""
        if completion.price is None:
            try:
                completion.price = self.targets.get(completion.provider).price(
                    completion.model)
            except errors.PluginError:
                completion.price = None
        cost = completion.cost
        if cost is None:
            import logging

            logging.getLogger("plugbay").warning(
                "cost unknown for %s/%s: %s", completion.provider, completion.model,
                "no usage reported" if completion.usage is None else "no price known")
        return cost

    # ------------------------------------------------------------- providers

    def providers(self) -> list[str]:
        """Every provider name this client can serve: installed plugins and config instances."""
        return self.targets.names()

    def context(self, provider: str) -> ProviderContext:
        """The ``ProviderContext`` of a provider instance (its options, key, state)."""
        return self.targets.get(provider).ctx

    def plugins(self) -> list[PluginStatus]:
        """Every plugin with its distribution, version and state (loaded, broken and why)."""
        return self._host.statuses()

    @property
    def http(self) -> HTTPClient:
        """The HTTP layer every provider instance of this client shares."""
        return self._http

    @property
    def host(self) -> PluginHost:
        """The plugin host (discovery, load states, the pluggy manager)."""
        return self._host

    async def amodels(self, provider: str | None = None, *, timeout: float = 30.0) -> Listing:
        """Models of one provider or of all, each plugin isolated; errors in ``.errors``."""
        return await self._fan.amodels(provider, timeout=timeout)

    def models(self, provider: str | None = None, *, timeout: float = 30.0) -> Listing:
        return self._run(self.amodels(provider, timeout=timeout))

    async def ahealth(self, provider: str | None = None, *, timeout: float = 10.0) -> Listing:
        """Health of one provider or of all; a plugin that raises or hangs shows as down."""
        return await self._fan.ahealth(provider, timeout=timeout)

    def health(self, provider: str | None = None, *, timeout: float = 10.0) -> Listing:
        return self._run(self.ahealth(provider, timeout=timeout))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    # ------------------------------------------------------------- lifecycle

    async def _aclose_parts(self) -> None:
        await self._stack.aclose()
        await self._http.aclose()

    async def aclose(self) -> None:
        """Close the connection pool of the running loop (and the sync loop's)."""
        await self._aclose_parts()
        self.close()

    def close(self) -> None:
        self._stack.flush()  # pending ledger rows are written before close returns
        if self._runner.started:
            self._runner.run(self._aclose_parts())
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
