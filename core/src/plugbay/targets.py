"""Provider instances: each name resolved once to its plugin, context and prices.

``Targets`` is the one place that turns a provider name (``openai``, or a configured
instance such as ``openai-eu``) into its plugin's hook functions and its
``ProviderContext``. Later calls reuse the ``Target``: no iteration over plugins.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.params import limits_of

if TYPE_CHECKING:
    from plugbay.config import Config
    from plugbay.http.client import HTTPClient
    from plugbay.plugins import LoadedPlugin, PluginHost
    from plugbay.types import Price

__all__ = ["Target", "Targets"]


class Target:
    """A resolved provider instance: its plugin, its context and its price lookups."""

    __slots__ = ("_overrides", "complete", "complete_async", "ctx", "limits", "name", "plugin",
                 "prices", "windows")

    def __init__(self, plugin: LoadedPlugin, ctx: ProviderContext,
                 overrides: Mapping[str, Any]) -> None:
        self.plugin = plugin
        self.ctx = ctx
        self.name = ctx.name
        self.complete = plugin.hooks.get("complete")
        self.complete_async = plugin.is_async.get("complete", False)
        self.limits = limits_of(plugin.obj)  # checked before each call (plugbay.params)
        self.prices: dict[str, Price | None] = {}
        self.windows: dict[str, int | None] = {}  # context windows (plugbay.token_checks)
        self._overrides = overrides

    def price(self, model: str) -> Price | None:
        """The price of ``model`` here: a config override, else the plugin's; cached."""
        if model in self.prices:
            return self.prices[model]
        price = _override(self._overrides.get(f"{self.name}/{model}"))
        if price is None and self.plugin.has("price"):
            price = self.plugin.hooks["price"](model=model, provider=self.ctx)
        self.prices[model] = price
        return price

    def api_key(self) -> str | None:
        """The key this instance would send, or ``None`` (for per-key rate limits)."""
        try:
            return self.ctx.api_key()
        except Exception:
            return None


def _override(table: Any) -> Price | None:
    if table is None:
        return None
    from plugbay.types import Price

    data = table.model_dump()
    data["as_of"] = dt.date.fromisoformat(data["as_of"]) if data["as_of"] else dt.date.today()
    return Price(**data)


class Targets:
    """Every provider instance of one client, resolved on first use."""

    def __init__(self, config: Config, host: PluginHost, env: Mapping[str, str],
                 http: HTTPClient) -> None:
        self.config = config
        self.host = host
        self.env = env
        self.http = http
        self.resolved: dict[str, Target] = {}
        self._lock = threading.Lock()  # one Target per name, whichever thread is first

    def names(self) -> list[str]:
        """Every provider name this client can serve: installed plugins and config instances."""
        return sorted(set(self.host.names()) | set(self.config.providers))

    def get(self, name: str) -> Target:
        target = self.resolved.get(name)
        if target is not None:
            return target
        with self._lock:
            return self.resolved.get(name) or self._resolve(name)

    def _resolve(self, name: str) -> Target:
        plugin_name = self.config.plugin_for(name)
        try:
            plugin = self.host.get(plugin_name)
        except errors.UnknownProviderError:
            raise errors.UnknownProviderError(name, self.names()) from None
        table = self.config.provider(name)
        options = table.model_dump(exclude_none=True) if table else {}
        ctx = ProviderContext(name, plugin_name, options=options, env=self.env, http=self.http)
        target = self.resolved[name] = Target(plugin, ctx, self.config.prices)
        return target

    def split(self, model: str) -> tuple[Target, str]:
        """``provider/model`` → its target and the model id."""
        provider, sep, model_id = model.partition("/")
        if not sep or not model_id or not provider:
            have = ", ".join(self.names()) or "none"
            raise errors.PluginError(
                f"model {model!r} must be written as 'provider/model', for example "
                f"'openai/gpt-4o-mini' (installed providers: {have})")
        return self.get(provider), model_id

    def price(self, model: str) -> Price | None:
        """The price of ``provider/model``, or ``None`` when unknown."""
        target, model_id = self.split(model)
        return target.price(model_id)
