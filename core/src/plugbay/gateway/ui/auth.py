"""Who may see the dashboard: the master key, sent as ``Authorization: Bearer`` or
exchanged at the login form for a session cookie.

A session is ``<issued>.<HMAC(issued)>`` under a key derived from the master key, so
every worker process checks it without shared state, and changing the master key ends
every session. The cookie is HttpOnly, SameSite=Strict, and Secure when served over TLS.
Every form carries a CSRF token, an HMAC of the session (of a per-browser nonce cookie
on the login form); a form posted without the right one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping

from plugbay.gateway.keys.secret import MasterKey

__all__ = ["LOGIN", "SESSION", "Guard", "cookie"]

SESSION = "plugbay_session"
LOGIN = "plugbay_login"  # the login form's nonce
_TTL = 12 * 3600


def cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/ui", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()


class Guard:
    def __init__(self, master_key: str, *, ttl: int = _TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self._master = MasterKey(master_key)
        self._key = hashlib.sha256(b"plugbay-ui\0" + master_key.encode()).digest()
        self.ttl, self.clock = ttl, clock

    def _mac(self, what: str) -> str:
        return hmac.new(self._key, what.encode(), hashlib.sha256).hexdigest()

    def is_master(self, secret: str) -> bool:
        return self._master.matches(secret)

    def bearer(self, headers: Mapping[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth[:7].lower() == "bearer " and self.is_master(auth[7:].strip())

    # ------------------------------------------------------------ sessions

    def issue(self) -> str:
        issued = str(int(self.clock()))
        return f"{issued}.{self._mac('session.' + issued)}"

    def session_ok(self, token: str | None) -> bool:
        if not token or "." not in token:
            return False
        issued, _, mac = token.partition(".")
        if not issued.isdigit() or self.clock() - int(issued) > self.ttl:
            return False
        return hmac.compare_digest(mac, self._mac("session." + issued))

    # ------------------------------------------------------------ CSRF

    def csrf(self, session: str) -> str:
        return self._mac("csrf." + session)

    def csrf_ok(self, session: str | None, token: str | None) -> bool:
        return bool(session and token) and hmac.compare_digest(
            str(token), self.csrf(str(session)))

    @staticmethod
    def nonce() -> str:
        return secrets.token_hex(16)

    def login_token(self, nonce: str) -> str:
        return self._mac("login." + nonce)

    def login_ok(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce and token) and hmac.compare_digest(
            str(token), self.login_token(str(nonce)))
