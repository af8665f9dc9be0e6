"""A fake Google OAuth2 token endpoint for tests, served by ``plugbay.testing.FakeServer``.

It implements the two exchanges google-auth performs when refreshing credentials:
the JWT-bearer grant of service accounts (the signed assertion is verified against the
fake key's public half) and the refresh-token grant of authorized-user (gcloud)
credentials. ``service_account_info()`` makes a FAKE key file whose ``token_uri`` points
here, with a freshly generated RSA key (needs ``cryptography``, imported on use)::

    with FakeServer() as srv:
        oauth = FakeGoogleOAuth(srv)
        path = oauth.write_service_account(tmp_path)   # GOOGLE_APPLICATION_CREDENTIALS
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

__all__ = ["FakeGoogleOAuth"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth signs service-account assertions for Google's endpoint, wherever it posts them.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class FakeGoogleOAuth:
    """The token endpoint at ``{server.url}{path}``; ``issued`` lists the tokens handed out."""

    def __init__(self, server: FakeServer, *, path: str = "/token", lifetime: int = 3600,
                 tokens: Iterator[str] | None = None, project: str = "fake-project") -> None:
        self.server, self.path, self.lifetime = server, path, lifetime
        self.tokens = tokens
        self.project = project
        self.issued: list[str] = []
        self.grants: list[dict[str, Any]] = []
        self.failure: tuple[int, dict[str, Any]] | None = None  # (status, body) to answer
        self.client_email = f"plugbay-test@{project}.iam.gserviceaccount.com"
        self.client_secret = "fake-client-secret"
        self.refresh_token = "fake-refresh-token"
        self._key: Any = None
        self.route = server.add("POST", path, self._handle)

    @property
    def token_uri(self) -> str:
        return self.server.url + self.path

    # ------------------------------------------------------------ credential files

    def service_account_info(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if self._key is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self._key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": self.project,
                "private_key_id": "fake-key-id", "private_key": pem,
                "client_email": self.client_email, "client_id": "100000000000000000001",
                "token_uri": self.token_uri}

    def authorized_user_info(self, quota_project: str | None = None) -> dict[str, Any]:
        info = {"type": "authorized_user", "client_id": "fake-client.apps.googleusercontent.com",
                "client_secret": self.client_secret, "refresh_token": self.refresh_token}
        if quota_project:
            info["quota_project_id"] = quota_project
        return info

    def write_service_account(self, directory: Path) -> Path:
        path = Path(directory) / "fake-service-account.json"
        path.write_text(json.dumps(self.service_account_info()), "utf-8")
        return path

    def write_authorized_user(self, directory: Path, quota_project: str | None = None) -> Path:
        path = Path(directory) / "fake-authorized-user.json"
        path.write_text(json.dumps(self.authorized_user_info(quota_project)), "utf-8")
        return path

    # ------------------------------------------------------------ the exchange

    def _handle(self, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.text).items()}
        self.grants.append(form)
        if self.failure is not None:
            status, body = self.failure
            return Reply.json(body, status=status)
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            problem = self._check_assertion(form.get("assertion", ""))
        elif grant == "refresh_token":
            problem = None if (form.get("refresh_token") == self.refresh_token
                               and form.get("client_secret") == self.client_secret) \
                else "bad refresh token or client secret"
        else:
            problem = f"unsupported grant_type {grant!r}"
        if problem:
            return Reply.json({"error": "invalid_grant", "error_description": problem},
                              status=400)
        token = next(self.tokens) if self.tokens is not None else \
            f"ya29.fake-access-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return Reply.json({"access_token": token, "expires_in": self.lifetime,
                           "token_type": "Bearer"})

    def _check_assertion(self, assertion: str) -> str | None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head, payload, signature = assertion.split(".")
            header, claims = json.loads(_b64(head)), json.loads(_b64(payload))
        except ValueError:
            return "malformed assertion"
        if self._key is None or header.get("alg") != "RS256":
            return "unknown key or algorithm"
        try:
            self._key.public_key().verify(_b64(signature), f"{head}.{payload}".encode(),
                                          padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "bad signature"
        if claims.get("iss") != self.client_email or claims.get("aud") not in (
                GOOGLE_TOKEN_URI, self.token_uri):
            return "wrong issuer or audience"
        if "https://www.googleapis.com/auth/cloud-platform" not in str(claims.get("scope")):
            return "cloud-platform scope missing"
        return None
