"""The store protocol every cache backend speaks: bytes in, bytes out, with a lifetime,
plus the two primitives of single flight across processes.

A store holds serialised entries only, never live objects. Its methods may raise on a
broken backend (a Redis that went away, a full disk): the cache layer turns that into
an uncached call and a warning, so a store need not guard itself.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """``shared`` says whether other processes see this store (SQLite, Redis): only then
    does ``claim`` mean anything; a process-local store always grants it."""

    shared: bool

    async def get(self, key: str) -> bytes | None:
        """The live entry under ``key``, or ``None`` (absent or expired)."""

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` for ``ttl`` seconds (``None``: until evicted)."""

    async def claim(self, key: str, token: str, ttl: float) -> bool:
        """Take the single-flight lock on ``key`` for ``ttl`` seconds, or extend it when
        ``token`` holds it already. ``False``: another caller holds it."""

    async def release(self, key: str, token: str) -> None:
        """Drop the lock on ``key`` if ``token`` still holds it."""

    async def aclose(self) -> None:
        """Close connections and files."""
