"""What a route knows about a target's model: the plugin's table (``ModelInfo``), with
the facts the route's config gives for that target laid over it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.routing.state import RouteTarget
    from plugbay.targets import Targets
    from plugbay.types import ModelInfo

__all__ = ["model_info", "target_facts"]

_FACT_KEYS = ("context_window", "supports_tools", "supports_vision", "supports_json_schema")


def target_facts(targets: Targets, target: RouteTarget) -> ModelInfo:
    """The target's ModelInfo: the plugin's table, overridden by the route's config."""
    from plugbay.types import ModelInfo

    try:
        info = model_info(targets.get(target.provider).plugin, target.model_id,
                          target.provider)
    except errors.PlugbayError:
        info = None
    info = info or ModelInfo(id=target.model_id, provider=target.provider)
    given = {k: getattr(target.settings, k) for k in _FACT_KEYS
             if getattr(target.settings, k) is not None}
    return info.model_copy(update=given) if given else info


def model_info(plugin: Any, model: str, provider: str) -> ModelInfo | None:
    """``model``'s row in the plugin's model table, or None (no table, no row)."""
    try:
        table = _table_of(plugin)
        return table.info(model, provider) if table is not None else None
    except errors.PlugbayError:
        return None


def _table_of(plugin: Any) -> Any:
    """The plugin's price/model table, when it exposes one (``OpenAICompatible``)."""
    candidates = (getattr(plugin.obj, "plugin", None),
                  getattr(plugin.hooks.get("price"), "__self__", None), plugin.obj)
    for obj in candidates:
        fn = getattr(obj, "table", None)
        if callable(fn):
            try:
                return fn()
            except Exception:
                return None
    return None
