"""Virtual keys for the gateway: stored as keyed hashes in the ledger database, each
with a budget, RPM/TPM limits, allowed models, an expiry and metadata (docs/gateway.md,
"Virtual keys").

- ``KeyStore`` (``open_store(sections, env)``): verify a caller's key
  (``authenticate``) and create, list, update and revoke keys;
- ``KeyLayer``: the pipeline layer that enforces a key's budget and limits;
- ``AdminAPI``: the HTTP admin endpoints, as one framework-free ``handle`` call.

Nothing here is imported by ``import plugbay``; names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.gateway.keys.admin import AdminAPI
    from plugbay.gateway.keys.layer import KeyLayer
    from plugbay.gateway.keys.record import KeyPrincipal, VirtualKey
    from plugbay.gateway.keys.store import KeyStore, open_store

__all__ = ["AdminAPI", "KeyLayer", "KeyPrincipal", "KeyStore", "VirtualKey", "open_store"]

_WHERE = {"AdminAPI": "admin", "KeyLayer": "layer", "KeyPrincipal": "record",
          "VirtualKey": "record", "KeyStore": "store", "open_store": "store"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'plugbay.gateway.keys' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"plugbay.gateway.keys.{module}"), name)
