"""What a plugin can do, read from the hooks it implements: the ``OPERATIONS`` column of
``plugbay plugins`` and ``plugbay models`` (and ``operations`` in their ``--json``).

The list names the plugin's operation hooks in a fixed order: ``complete``, ``stream``,
``embed``, ``count_tokens``, and ``batch_*`` for the provider batch-job hooks. The
discovery hooks every plugin has (``list_models``, ``price``, ``health``) are left out.
A hook added later shows up by its own name, with no change here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugbay.plugins import LoadedPlugin

__all__ = ["operations"]

_FIRST = ("complete", "stream", "embed", "count_tokens")
_NOT_OPERATIONS = frozenset({"list_models", "price", "health"})


def operations(plugin: LoadedPlugin | None) -> list[str]:
    """The operation hooks ``plugin`` implements (``[]`` for a broken one)."""
    if plugin is None:
        return []
    hooks = [h for h in plugin.hooks if h not in _NOT_OPERATIONS]
    out = [h for h in _FIRST if h in hooks]
    if any(h.startswith("batch_") for h in hooks):
        out.append("batch_*")
    out += sorted(h for h in hooks if h not in _FIRST and not h.startswith("batch_"))
    return out
