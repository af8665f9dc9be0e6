"""The response cache: a pipeline layer that answers an identical call from a store.

- ``key.py``: the exact-match key of a call; ``entry.py``: entries as bytes;
- ``base.py``: the store protocol; ``memory.py``, ``sqlite.py``, ``redis.py``: stores;
  ``guard.py``: a failing store means uncached calls, never failed ones;
- ``flight.py``: single flight within a process; ``steps.py`` and ``layer.py``: the layer;
- ``settings.py``: the ``[cache]`` section and ``build``.

See ``docs/cache.md``. Importing this package loads none of the stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.cache.base import Store
    from plugbay.cache.layer import CacheLayer
    from plugbay.cache.settings import CacheSettings, build, parse

__all__ = ["CacheLayer", "CacheSettings", "Store", "build", "parse"]

_WHERE = {"CacheLayer": "layer", "CacheSettings": "settings", "Store": "base",
          "build": "settings", "parse": "settings"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'plugbay.cache' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"plugbay.cache.{module}"), name)
