"""Google OAuth2 access tokens for Vertex AI, the way google-cloud-aiplatform gets them.

``GoogleToken`` holds one google-auth credentials object and hands out a bearer token
that stays valid for at least ``margin`` more seconds. Loading credentials
(``google.auth.default`` for Application Default Credentials, a key file, or an info
dict) and refreshing them are blocking I/O in google-auth, so both run in a worker
thread. google-auth is imported on the first use only, never with the plugin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from plugbay import errors

__all__ = ["REFRESH_MARGIN", "SCOPES", "GoogleToken"]

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# google-auth itself refreshes 3m45s before expiry; a request may take longer than that.
REFRESH_MARGIN = 300.0
HINT = ("run `gcloud auth application-default login`, point GOOGLE_APPLICATION_CREDENTIALS "
        "at a service-account key file, run on Google Cloud with a service account, or set "
        "`credentials` in the provider config")


def _from_info(info: Mapping[str, Any]) -> tuple[Any, str | None]:
    """Credentials from a key file's contents, by the type-specific loaders google-auth
    recommends; other ADC types (external_account, impersonation) go through the
    generic loader, as ``google.auth.default`` would."""
    kind = info.get("type")
    if kind == "service_account":
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(dict(info),
                                                                      scopes=list(SCOPES))
        return creds, info.get("project_id")
    if kind == "authorized_user":
        from google.oauth2 import credentials as user

        return user.Credentials.from_authorized_user_info(dict(info), scopes=list(SCOPES)), None
    import google.auth

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return google.auth.load_credentials_from_dict(dict(info), scopes=list(SCOPES))


def _load(source: Any, token_uri: str | None) -> tuple[Any, str | None]:
    """(credentials, project) from ADC, a key file path, an info dict or an object."""
    import google.auth
    from google.auth import credentials as gcreds

    if source is None:
        creds, project = google.auth.default(scopes=list(SCOPES))
    elif isinstance(source, (str, os.PathLike)):
        with open(os.fspath(source), encoding="utf-8") as handle:
            creds, project = _from_info(json.load(handle))
    elif isinstance(source, Mapping):
        creds, project = _from_info(source)
    else:
        creds = gcreds.with_scopes_if_required(source, list(SCOPES))
        project = getattr(source, "project_id", None)
    if token_uri and hasattr(creds, "with_token_uri"):
        creds = creds.with_token_uri(token_uri)  # private endpoints (and test servers)
    return creds, project


def _refresh(creds: Any) -> None:
    from google.auth.transport.requests import Request

    creds.refresh(Request())


class GoogleToken:
    """One credentials object's cached access token."""

    def __init__(self, source: Any = None, *, provider: str = "vertex",
                 token_uri: str | None = None, margin: float = REFRESH_MARGIN,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source  # None: Application Default Credentials
        self.provider = provider
        self.token_uri = token_uri
        self.margin = margin
        self.clock = clock
        self.credentials: Any = None
        self.project: str | None = None
        self.refreshes = 0
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    def fresh(self) -> bool:
        creds = self.credentials
        if creds is None or not getattr(creds, "token", None):
            return False
        expiry: dt.datetime | None = getattr(creds, "expiry", None)
        if expiry is None:
            return True  # a token without expiry (static token credentials)
        when = expiry.replace(tzinfo=dt.timezone.utc) if expiry.tzinfo is None else expiry
        return self.clock() < when.timestamp() - self.margin

    @property
    def token(self) -> str | None:
        return getattr(self.credentials, "token", None) if self.credentials else None

    async def load(self) -> Any:
        """The credentials (loaded once, in a thread); raises AuthenticationError."""
        if self.credentials is None:
            async with self._lock():
                if self.credentials is None:
                    try:
                        creds, project = await asyncio.to_thread(_load, self.source,
                                                                 self.token_uri)
                    except ImportError:
                        raise errors.AuthenticationError(
                            "Vertex AI needs google-auth: `pip install 'google-auth[requests]'`",
                            provider=self.provider) from None
                    except Exception as exc:
                        raise self._error("no usable Google credentials", exc) from exc
                    self.credentials, self.project = creds, project
        return self.credentials

    async def headers(self) -> dict[str, str]:
        """Authorization (and quota-project) headers with a token fresh enough."""
        creds = await self.load()
        if not self.fresh():
            async with self._lock():
                if not self.fresh():  # another task may have refreshed meanwhile
                    try:
                        await asyncio.to_thread(_refresh, creds)
                    except Exception as exc:
                        raise self._error("refreshing the Google access token failed",
                                          exc) from exc
                    self.refreshes += 1
        headers = {"Authorization": f"Bearer {creds.token}"}
        quota = getattr(creds, "quota_project_id", None)
        if quota:  # bill user credentials' calls to the quota project, as the SDK does
            headers["x-goog-user-project"] = str(quota)
        return headers

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def _error(self, what: str, exc: BaseException) -> errors.AuthenticationError:
        detail = errors.redact(f"{type(exc).__name__}: {exc}")
        return errors.AuthenticationError(f"{what} ({detail}); {HINT}", provider=self.provider)
