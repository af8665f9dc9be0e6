"""Host layers named in config: ``[pipeline] layers = [...]``.

Each entry names a layer by entry point (group ``plugbay.layers``, which a third-party
package declares) or by ``module:attribute``, either as a string or as a table with
options passed to the factory::

    [pipeline]
    layers = ["redact-emails", { use = "myapp.audit:AuditLayer", options = { level = "info" } }]

The named object may be a layer, or a class or function that returns one.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module, metadata
from typing import Any

from plugbay.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "load_layers"]

ENTRY_POINT_GROUP = "plugbay.layers"


def load_layers(section: Any, file: str | None = None) -> list[Any]:
    """The layers ``[pipeline]`` names, in order; ``ConfigError`` names a bad one."""
    if not section:
        return []
    if not isinstance(section, Mapping):
        raise ConfigError("must be a table with a 'layers' list", file=file, key="pipeline")
    unknown = set(section) - {"layers"}
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))} (known: layers)",
                          file=file, key="pipeline")
    entries = section.get("layers") or []
    if not isinstance(entries, list):
        raise ConfigError("must be a list of layer names", file=file, key="pipeline.layers")
    return [_load(entry, file, f"pipeline.layers[{i}]") for i, entry in enumerate(entries)]


def _load(entry: Any, file: str | None, key: str) -> Any:
    options: Mapping[str, Any] = {}
    if isinstance(entry, Mapping):
        options = entry.get("options") or {}
        entry = entry.get("use")
    if not isinstance(entry, str) or not entry:
        raise ConfigError("name a layer: an entry point name or 'module:attribute'",
                          file=file, key=key)
    try:
        obj = _resolve(entry)
    except ConfigError as exc:
        raise ConfigError(exc.reason, file=file, key=key) from None
    except Exception as exc:
        raise ConfigError(f"cannot load layer {entry!r}: {type(exc).__name__}: {exc}",
                          file=file, key=key) from exc
    layer = obj
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "complete")):
        try:
            layer = obj(**options)
        except Exception as exc:
            raise ConfigError(f"layer {entry!r} could not be made: {type(exc).__name__}: "
                              f"{exc}", file=file, key=key) from exc
    elif options:
        raise ConfigError(f"layer {entry!r} is an instance and takes no options",
                          file=file, key=key)
    if not (callable(getattr(layer, "complete", None))
            and callable(getattr(layer, "stream", None))):
        raise ConfigError(f"{entry!r} is not a layer: it needs complete(call, next) and "
                          "stream(call, next) (subclass plugbay.pipeline.Layer)",
                          file=file, key=key)
    return layer


def _resolve(name: str) -> Any:
    if ":" in name:
        module, _, attr = name.partition(":")
        obj: Any = import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
        raise ConfigError(f"no layer {name!r} is installed (entry points in "
                          f"{ENTRY_POINT_GROUP!r}: {', '.join(known) or 'none'}); or write "
                          "'module:attribute'")
    return found[0].load()
