"""Fan-out of ``list_models`` and ``health`` to every plugin, each isolated.

Every provider is called concurrently under a deadline; one that raises or hangs is
reported in ``Listing.errors`` (or as ``down``) and never spoils the others' results.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay._aio import describe, within

if TYPE_CHECKING:
    from plugbay.targets import Target, Targets
    from plugbay.types import Health, ModelInfo

__all__ = ["FanOut", "Listing"]


class Listing(list):  # type: ignore[type-arg]
    """A list of results gathered from every plugin, with ``errors`` by provider."""

    def __init__(self, items: Iterable[Any] = (), errors: Mapping[str, str] | None = None):
        super().__init__(items)
        self.errors: dict[str, str] = dict(errors or {})


class FanOut:
    """Models and health across the providers of one client."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets

    def _all_targets(self, provider: str | None) -> tuple[list[Target], dict[str, str]]:
        names = [provider] if provider else self.targets.names()
        targets, failed = [], {}
        for name in names:
            try:
                targets.append(self.targets.get(name))
            except errors.PluginError as exc:
                if provider:
                    raise
                failed[name] = str(exc)
        return targets, failed

    async def _fan_out(self, hook: str, targets: list[Target], timeout: float,
                       ) -> list[tuple[Target, Any]]:
        async def one(t: Target) -> Any:
            result = t.plugin.impl(hook)(provider=t.ctx)
            if isinstance(result, Awaitable):
                async with within(timeout):
                    result = await result
            return result

        import asyncio  # on first use: importing it costs ~40 ms, and plain calls need none

        results = await asyncio.gather(*(one(t) for t in targets), return_exceptions=True)
        return list(zip(targets, results, strict=True))

    async def amodels(self, provider: str | None = None, *, timeout: float = 30.0) -> Listing:
        """Models of one provider or of all, each plugin isolated; errors in ``.errors``."""
        targets, failed = self._all_targets(provider)
        targets = [t for t in targets if t.plugin.has("list_models")]
        items: list[ModelInfo] = []
        for target, result in await self._fan_out("list_models", targets, timeout):
            target.prices.clear()  # a listing may carry fresher (live) prices
            if isinstance(result, BaseException):
                if provider and isinstance(result, errors.PlugbayError):
                    raise result
                failed[target.ctx.name] = describe(result)
            else:
                items.extend(result)
        return Listing(items, failed)


    async def ahealth(self, provider: str | None = None, *, timeout: float = 10.0) -> Listing:
        """Health of one provider or of all; a plugin that raises or hangs shows as down."""
        from plugbay.types import Health

        targets, failed = self._all_targets(provider)
        targets = [t for t in targets if t.plugin.has("health")]
        out: list[Health] = [Health(provider=n, status="down", detail=e) for n, e in failed.items()]
        for target, result in await self._fan_out("health", targets, timeout):
            if isinstance(result, BaseException):
                out.append(Health(provider=target.ctx.name, status="down",
                                  detail=describe(result)))
            else:
                out.append(result)
        return Listing(sorted(out, key=lambda h: h.provider), failed)


