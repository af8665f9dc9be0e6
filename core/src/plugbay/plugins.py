"""Plugin discovery and loading, isolated per plugin and lazy.

Plugins are found through the ``plugbay`` entry-point group; the entry-point name
is the provider name. Nothing is imported until a provider is first used or
listed. A plugin that fails to import, or whose hookimpls do not match the
specs (``check_pending``), is recorded as broken with its reason and skipped;
it never takes the host down.

Environment: ``PLUGBAY_PLUGINS`` (comma list) loads only the named plugins,
``PLUGBAY_DISABLE_PLUGINS`` skips the named ones, ``PLUGBAY_TRACE=1`` logs every
hook call on the ``plugbay.hooks`` logger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from plugbay.errors import PluginError, UnknownProviderError

if TYPE_CHECKING:  # importlib.metadata and inspect load on first discovery, not at import
    from importlib import metadata

    import pluggy

__all__ = ["LoadedPlugin", "PluginHost", "PluginStatus", "api_mismatch"]

GROUP = "plugbay"
HOOKS: tuple[str, ...] = ("complete", "stream", "list_models", "price", "health")
# optional, see hookspecs: a plugin may implement none of them
HOOKS += ("batch_submit", "batch_poll", "batch_results", "batch_cancel", "count_tokens")
HOOKS += ("embed",)


# Plain classes, not dataclasses: `dataclasses` (with `inspect`) is ~15% of the cost of
# `from plugbay import Client` (issue 12).


class PluginStatus:
    """One plugin as the host sees it: where it comes from and whether it loaded."""

    def __init__(self, name: str, distribution: str | None = None, version: str | None = None,
                 state: Literal["available", "loaded", "broken", "disabled"] = "available",
                 error: str | None = None,
                 source: Literal["entry-point", "in-process"] = "entry-point") -> None:
        self.name = name
        self.distribution = distribution
        self.version = version
        self.state = state
        self.error = error
        self.source = source

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PluginStatus) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"PluginStatus({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class LoadedPlugin:
    """A loaded plugin and direct references to its hook functions."""

    __slots__ = ("hooks", "is_async", "name", "obj")

    def __init__(self, name: str, obj: object,
                 hooks: dict[str, Callable[..., Any]] | None = None,
                 is_async: dict[str, bool] | None = None) -> None:
        self.name = name
        self.obj = obj
        self.hooks: dict[str, Callable[..., Any]] = {} if hooks is None else hooks
        self.is_async: dict[str, bool] = {} if is_async is None else is_async

    def has(self, hook: str) -> bool:
        return hook in self.hooks

    def impl(self, hook: str) -> Callable[..., Any]:
        try:
            return self.hooks[hook]
        except KeyError:
            raise PluginError(
                f"plugin {self.name!r} does not implement the {hook!r} hook") from None


def _split(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def api_mismatch(obj: object, who: str) -> str | None:
    """One line when ``obj`` was built for another plugin API than this plugbay's, naming
    the side to upgrade; ``None`` when it matches (or declares none: taken as current)."""
    from plugbay.hookspecs import PLUGIN_API

    built = getattr(obj, "plugin_api", None)
    if built is None or built == PLUGIN_API:
        return None
    if isinstance(built, bool) or not isinstance(built, int):
        return f"{who} declares plugin_api = {built!r}, not a version number: fix {who}"
    fix = f"upgrade {who}" if built < PLUGIN_API else "upgrade plugbay"
    return f"{who} was built for plugin API {built}; this plugbay speaks {PLUGIN_API}: {fix}"


def _name_of(obj: object) -> str:
    name = getattr(obj, "plugbay_name", None) or getattr(obj, "name", None)
    if not isinstance(name, str):
        name = str(getattr(obj, "__name__", type(obj).__name__))
    return name.removeprefix("plugbay_").replace("_", "-")


def _traced(plugin: str, hook: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    import logging  # only with PLUGBAY_TRACE: logging is not imported with plugbay

    log = logging.getLogger("plugbay.hooks")

    def wrapper(**kw: Any) -> Any:
        shown = {k: (getattr(v, "model", None) or getattr(v, "name", None) or v)
                 for k, v in kw.items()}
        log.debug("hook %s.%s(%s)", plugin, hook, shown)
        return fn(**kw)
    return wrapper


class PluginHost:
    """Finds, loads and validates plugins; one per ``Client``."""

    def __init__(
        self,
        plugins: Iterable[object] | Mapping[str, object] = (),
        *,
        env: Mapping[str, str] | None = None,
        enable: Iterable[str] | None = None,
        disable: Iterable[str] = (),
        entry_points: Iterable[metadata.EntryPoint] | None = None,
    ) -> None:
        env = env or {}
        self._only = _split(env.get("PLUGBAY_PLUGINS"))
        if self._only is None and enable is not None:
            self._only = set(enable)
        self._disabled = (_split(env.get("PLUGBAY_DISABLE_PLUGINS")) or set()) | set(disable)
        self._trace = env.get("PLUGBAY_TRACE", "").lower() in ("1", "true", "yes")
        items = plugins.items() if isinstance(plugins, Mapping) else ((_name_of(p), p)
                                                                       for p in plugins)
        self._inprocess: dict[str, object] = dict(items)
        self._given_eps = None if entry_points is None else list(entry_points)
        self._eps: dict[str, metadata.EntryPoint] | None = None
        self._loaded: dict[str, LoadedPlugin] = {}
        self._status: dict[str, PluginStatus] = {}
        self._pm: pluggy.PluginManager | None = None
        # First loads from several threads (the sync API's loop, a host's own) register
        # each plugin once; later lookups take no lock.
        self._lock = threading.RLock()

    # -------------------------------------------------------------- discovery

    def entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self._eps is None:
            eps = self._given_eps
            if eps is None:
                from importlib import metadata

                eps = list(metadata.entry_points(group=GROUP))
            self._eps = {}
            for ep in eps:
                self._eps.setdefault(ep.name, ep)
                dist = getattr(ep, "dist", None)
                self._status[ep.name] = PluginStatus(
                    ep.name, dist.name if dist else None, dist.version if dist else None)
                if not self._allowed(ep.name):
                    self._status[ep.name].state = "disabled"
        return self._eps

    def names(self) -> list[str]:
        """Every provider name that could be served (in-process and installed)."""
        names = set(self._inprocess) | {n for n in self.entry_points() if self._allowed(n)}
        return sorted(names)

    def _allowed(self, name: str) -> bool:
        if name in self._disabled:
            return False
        return self._only is None or name in self._only

    # ---------------------------------------------------------------- loading

    def _manager(self) -> pluggy.PluginManager:
        if self._pm is None:
            import pluggy

            from plugbay import hookspecs

            self._pm = pluggy.PluginManager(hookspecs.PROJECT)
            self._pm.add_hookspecs(hookspecs)
        return self._pm

    def get(self, name: str) -> LoadedPlugin:
        """The loaded plugin serving ``name``; loads it on first use."""
        plugin = self._loaded.get(name)
        if plugin is not None:
            return plugin
        with self._lock:
            plugin = self._loaded.get(name)
            return plugin if plugin is not None else self._load(name)

    def _load(self, name: str) -> LoadedPlugin:
        if name in self._inprocess:
            return self._register(name, self._inprocess[name], "in-process")
        eps = self.entry_points()
        if name not in eps or not self._allowed(name):
            raise UnknownProviderError(name, self.names())
        status = self._status[name]
        if status.state == "broken":
            raise PluginError(f"plugin {name!r} is broken: {status.error}")
        try:
            obj = eps[name].load()
        except Exception as exc:  # isolate: a broken plugin must never crash the host
            status.state, status.error = "broken", f"import failed: {type(exc).__name__}: {exc}"
            raise PluginError(f"plugin {name!r} is broken: {status.error}") from exc
        return self._register(name, obj, "entry-point")

    def _register(self, name: str, obj: object, source: str) -> LoadedPlugin:
        import inspect

        import pluggy

        status = self._status.setdefault(name, PluginStatus(name, source=source))  # type: ignore[arg-type]
        mismatch = api_mismatch(obj, status.distribution or f"plugin {name!r}")
        if mismatch is not None:
            status.state, status.error = "broken", mismatch
            raise PluginError(mismatch)
        pm = self._manager()
        try:
            pm.register(obj, name=name)
            pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if pm.is_registered(obj):
                pm.unregister(obj)
            status.state, status.error = "broken", f"invalid hooks: {exc}"
            raise PluginError(f"plugin {name!r} is broken: {status.error}") from exc
        loaded = LoadedPlugin(name, obj)
        for hook in HOOKS:
            for impl in getattr(pm.hook, hook).get_hookimpls():
                if impl.plugin is obj:
                    fn = impl.function
                    loaded.is_async[hook] = inspect.iscoroutinefunction(fn)
                    loaded.hooks[hook] = _traced(name, hook, fn) if self._trace else fn
        if not loaded.hooks:
            pm.unregister(obj)
            status.state, status.error = "broken", "implements none of the plugbay hooks"
            raise PluginError(f"plugin {name!r} is broken: {status.error}")
        status.state, status.error = "loaded", None
        self._loaded[name] = loaded
        return loaded

    def load_all(self) -> dict[str, LoadedPlugin]:
        """Load every allowed plugin; broken ones are recorded and skipped."""
        for name in self.names():
            try:
                self.get(name)
            except PluginError:
                continue
        return dict(self._loaded)

    def statuses(self) -> list[PluginStatus]:
        self.entry_points()
        for name in self._inprocess:
            self._status.setdefault(name, PluginStatus(name, source="in-process"))
        return [self._status[n] for n in sorted(self._status)]

    @property
    def pluggy(self) -> pluggy.PluginManager:
        """The underlying pluggy manager, for host apps that want broadcast calls."""
        return self._manager()
