"""The admin API for virtual keys, framework-free: the gateway mounts ``handle`` under
``/admin/`` and turns its ``(status, body)`` into an HTTP response.

=======  =========================  ===========================================
POST     /admin/keys                create; the only answer that holds the key
GET      /admin/keys                list (``?revoked=true`` includes revoked ones)
GET      /admin/keys/{id}           one key
PATCH    /admin/keys/{id}           update the fields given (``null`` clears one)
DELETE   /admin/keys/{id}           revoke
GET      /admin/keys/{id}/spend     spend today, this month, in all, vs the budget
=======  =========================  ===========================================

Every request needs the master key, as ``Authorization: Bearer <key>`` or
``x-api-key``: without one (or with a wrong one) the answer is 401, with a virtual key
403. Keys are shown by id and prefix only; the secret appears once, in the answer to
the create. Errors are ``{"error": {"message", "type", "param"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from plugbay import errors
from plugbay.gateway.keys.secret import MasterKey

if TYPE_CHECKING:
    from plugbay.gateway.keys.store import KeyStore

__all__ = ["AdminAPI"]

Answer = tuple[int, dict[str, Any]]
_MAX_BODY = 64 * 1024


def _error(status: int, message: str, kind: str, param: str | None = None) -> Answer:
    return status, {"error": {"message": message, "type": kind, "param": param}}


def _secret(headers: Mapping[str, str]) -> str | None:
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return lower.get("x-api-key") or None


class AdminAPI:
    def __init__(self, store: KeyStore, master_key: str) -> None:
        if not master_key:
            raise errors.ConfigError("the admin API needs the master key: set "
                                     "PLUGBAY_MASTER_KEY", key="PLUGBAY_MASTER_KEY")
        self.store = store
        self._master = MasterKey(master_key)

    async def handle(self, method: str, path: str, headers: Mapping[str, str],
                     body: bytes) -> Answer:
        denied = await self._guard(headers)
        if denied is not None:
            return denied
        url = urlsplit(path)
        parts = [p for p in url.path.split("/") if p]
        if parts[:2] != ["admin", "keys"] or len(parts) > 4:
            return _error(404, f"no admin endpoint {url.path}", "not_found_error")
        method = method.upper()
        try:
            if len(parts) == 2:
                if method == "POST":
                    return await self._create(body)
                if method == "GET":
                    revoked = parse_qs(url.query).get("revoked", ["false"])[0] == "true"
                    return 200, {"keys": [k.public() for k in
                                          await self.store.list(revoked=revoked)]}
                return _error(405, f"{method} /admin/keys: use GET or POST",
                              "invalid_request_error")
            key_id = parts[2]
            if len(parts) == 4:
                if parts[3] != "spend" or method != "GET":
                    return _error(404, f"no admin endpoint {method} {url.path}",
                                  "not_found_error")
                key = await self.store.get(key_id)
                if key is None:
                    return self._unknown(key_id)
                return 200, await self.store.spend(key)
            if method == "GET":
                key = await self.store.get(key_id)
            elif method in ("PATCH", "POST"):
                fields = self._json(body)
                if isinstance(fields, tuple):
                    return fields
                key = await self.store.update(key_id, **fields)
            elif method == "DELETE":
                key = await self.store.revoke(key_id)
            else:
                return _error(405, f"{method} /admin/keys/{{id}}: use GET, PATCH or DELETE",
                              "invalid_request_error")
            return self._unknown(key_id) if key is None else (200, key.public())
        except errors.ConfigError as exc:  # a bad field: named, with how to fix it
            return _error(400, exc.reason, "invalid_request_error", exc.key)

    async def _guard(self, headers: Mapping[str, str]) -> Answer | None:
        secret = _secret(headers)
        if not secret:
            return _error(401, "the admin API needs the master key (Authorization: Bearer "
                          "<PLUGBAY_MASTER_KEY>)", "authentication_error")
        if self._master.matches(secret):
            return None
        try:
            await self.store.authenticate(secret)
        except errors.AuthenticationError:
            return _error(401, "invalid master key", "authentication_error")
        return _error(403, "a virtual key cannot use the admin API; use the master key",
                      "permission_error")

    async def _create(self, body: bytes) -> Answer:
        fields = self._json(body)
        if isinstance(fields, tuple):
            return fields
        key, secret = await self.store.create(**fields)
        return 201, {**key.public(), "key": secret}

    @staticmethod
    def _json(body: bytes) -> dict[str, Any] | Answer:
        if len(body) > _MAX_BODY:
            return _error(413, f"the body is over {_MAX_BODY} bytes", "invalid_request_error")
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            return _error(400, f"the body is not JSON: {exc}", "invalid_request_error")
        if not isinstance(data, dict):
            return _error(400, "the body must be a JSON object", "invalid_request_error")
        return data

    @staticmethod
    def _unknown(key_id: str) -> Answer:
        return _error(404, f"no virtual key {key_id!r}", "not_found_error", "id")
