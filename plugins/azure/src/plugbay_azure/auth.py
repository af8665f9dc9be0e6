"""Microsoft Entra ID bearer tokens for Azure OpenAI, the way azure-identity hands them out.

``EntraToken`` wraps any credential with ``get_token(*scopes)``: the sync credentials of
``azure.identity`` (run in a worker thread, since they do blocking I/O) or the async ones
of ``azure.identity.aio`` (awaited). The token is cached and fetched again a few minutes
before ``expires_on`` (or at ``refresh_on`` when the credential gives one), so no request
ever carries an expired token. ``azure.identity`` itself is imported only when the
default credential is first needed, never when the plugin is imported.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import weakref
from collections.abc import Callable
from typing import Any

from plugbay import errors

__all__ = ["REFRESH_MARGIN", "SCOPE", "EntraToken", "default_credential"]

SCOPE = "https://cognitiveservices.azure.com/.default"
# azure-core's own bearer-token policy refreshes five minutes before expiry.
REFRESH_MARGIN = 300.0
HINT = ("sign in with `az login`, set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, "
        "run on a managed identity, pass a credential object as `credential`, or use an "
        "api key (AZURE_OPENAI_API_KEY)")


def default_credential() -> Any:
    """``DefaultAzureCredential()``: env vars, workload/managed identity, az CLI, ..."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise errors.AuthenticationError(
            "Entra ID auth needs azure-identity: `pip install azure-identity`, or set "
            "AZURE_OPENAI_API_KEY", provider="azure") from None
    return DefaultAzureCredential()


class EntraToken:
    """One credential's cached bearer token for ``scope``."""

    def __init__(self, credential: Any | None, *, scope: str = SCOPE,
                 margin: float = REFRESH_MARGIN, provider: str = "azure",
                 clock: Callable[[], float] = time.time) -> None:
        self.credential: Any = credential  # None: DefaultAzureCredential, made on first use
        self.scope = scope
        self.margin = margin
        self.provider = provider
        self.clock = clock
        self.token: str | None = None
        self.expires_on = 0.0
        self.refresh_at = 0.0
        self.fetches = 0
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    def fresh(self) -> bool:
        return self.token is not None and self.clock() < self.refresh_at

    async def get(self) -> str:
        """A token valid for at least ``margin`` more seconds (fetched at most once at a time)."""
        if self.fresh():
            return self.token  # type: ignore[return-value]
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            if not self.fresh():  # another task may have refreshed while we waited
                await self._fetch()
        return self.token  # type: ignore[return-value]

    async def _fetch(self) -> None:
        try:
            if self.credential is None:
                # The import and the credential chain's set-up do blocking work: off the loop.
                self.credential = await asyncio.to_thread(default_credential)
            get = self.credential.get_token
            if inspect.iscoroutinefunction(get):
                result = await get(self.scope)
            else:
                result = await asyncio.to_thread(get, self.scope)
            if inspect.isawaitable(result):
                result = await result
            token, expires_on = str(result.token), float(result.expires_on)
        except errors.APIError:
            raise
        except Exception as exc:  # every credential failure is an auth failure to the caller
            raise errors.AuthenticationError(
                errors.redact(f"could not get an Entra ID token ({type(exc).__name__}: {exc});"
                              f" {HINT}"), provider=self.provider) from exc
        refresh_on = getattr(result, "refresh_on", None)  # AccessTokenInfo may carry one
        # A token that lives less than the margin is fetched again on the next request.
        self.refresh_at = float(refresh_on) if refresh_on else expires_on - self.margin
        self.token, self.expires_on = token, expires_on
        self.fetches += 1
