"""Key secrets: made once, hashed with a server secret, compared in constant time.

A key reads ``pb-<id>-<secret>``: the 10-character ``id`` finds the row (and is the
``key`` tag in the ledger), the rest is 32 random bytes. The database holds only
HMAC-SHA256(server secret, whole key), so a copy of the database cannot be used to
call, and a guessed id alone proves nothing.

The server secret is ``PLUGBAY_KEYS_SECRET`` if set, else derived from
``PLUGBAY_MASTER_KEY``; changing it invalidates every virtual key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from plugbay.errors import ConfigError

__all__ = ["KeyHasher", "MasterKey", "master_key", "new_id", "new_secret", "split"]

_ID_LEN = 10
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l: read aloud, typed by hand


def new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LEN))


def new_secret(key_id: str) -> str:
    return f"pb-{key_id}-{secrets.token_urlsafe(32)}"


def split(secret: str) -> str | None:
    """The id inside ``secret``, or ``None`` when it is not shaped like a virtual key."""
    if len(secret) < 3 + _ID_LEN + 2 or not secret.startswith("pb-"):
        return None
    key_id = secret[3:3 + _ID_LEN]
    if secret[3 + _ID_LEN] != "-" or any(c not in _ALPHABET for c in key_id):
        return None
    return key_id


def master_key(env: Mapping[str, str]) -> str | None:
    value = env.get("PLUGBAY_MASTER_KEY", "").strip()
    return value or None


class MasterKey:
    """The master key, kept as its SHA-256; ``matches`` compares digests in constant
    time, so not even the key's length leaks (the gateway, the admin API, the UI)."""

    __slots__ = ("_digest",)

    def __init__(self, key: str) -> None:
        self._digest = hashlib.sha256(key.encode()).digest()

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(secret.encode()).digest(), self._digest)


class KeyHasher:
    """HMAC-SHA256 of a key under the server secret."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ConfigError("the keys secret must be at least 16 characters",
                              key="PLUGBAY_KEYS_SECRET")
        self._secret = secret

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeyHasher:
        dedicated = env.get("PLUGBAY_KEYS_SECRET", "").strip()
        if dedicated:
            return cls(dedicated.encode())
        master = master_key(env)
        if master is None:
            raise ConfigError("virtual keys need a server secret: set PLUGBAY_MASTER_KEY "
                              "(or PLUGBAY_KEYS_SECRET) in the environment",
                              key="PLUGBAY_MASTER_KEY")
        if len(master) < 16:
            raise ConfigError("must be at least 16 characters (e.g. `openssl rand -hex 32`)",
                              key="PLUGBAY_MASTER_KEY")
        # a derived secret, so the stored hashes are not HMACs under the master key itself
        return cls(hmac.new(master.encode(), b"plugbay virtual keys v1",
                            hashlib.sha256).digest())

    def hash(self, secret: str) -> str:
        return hmac.new(self._secret, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored: str) -> bool:
        return hmac.compare_digest(self.hash(secret), stored)

    def __repr__(self) -> str:
        return "KeyHasher(<secret>)"
