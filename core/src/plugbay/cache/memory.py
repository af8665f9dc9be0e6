"""The in-process cache store: an LRU bounded in bytes.

The size of an entry is its key plus its value; when a new entry takes the total over
``max_bytes`` the least recently used entries go first. An entry bigger than the whole
store is not kept. One lock, because a client may serve several event loops in threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

__all__ = ["MemoryStore"]

_now = time.monotonic


class MemoryStore:
    """Entries live in this process only; ``claim`` is always granted (the layer's own
    single flight covers this process)."""

    shared = False

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.max_bytes = max_bytes
        self.size = 0  # bytes held now
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and expires <= _now():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        need = len(key) + len(value)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if need > self.max_bytes:
                return
            self._entries[key] = (value, None if ttl is None else _now() + ttl)
            self.size += need
            while self.size > self.max_bytes:  # oldest first
                self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self.size -= len(key) + len(value)

    async def claim(self, key: str, token: str, ttl: float) -> bool:
        return True

    async def release(self, key: str, token: str) -> None:
        return None

    async def aclose(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0
