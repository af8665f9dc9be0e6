"""AWS authentication for Bedrock: boto3's credential chain, SigV4 signing, API-key bearer.

Credentials come from a botocore ``Session``, so everything boto3 accepts works the same
way: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, the shared
config and credentials files and their profiles, SSO, ``role_arn`` role assumption,
web identity, ``credential_process``, the container and EC2 instance metadata
endpoints. The session reads the instance's environment snapshot (``ctx.env``) first;
botocore falls back to the process environment only for settings the snapshot lacks.

Each request is signed by botocore's own ``SigV4Auth`` on an ``AWSRequest`` and then
sent over ``provider.http``: no boto3 client is used at run time, so our pooled
transport and streaming stay. botocore is imported on the first request, in a worker
thread together with the credential resolution (both are blocking work), never when
the plugin is imported.

The Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK`` or the ``api_key`` option) is sent as
``Authorization: Bearer ...`` without SigV4, as boto3 does when that variable is set.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext

__all__ = ["SIGNING_NAME", "AwsAuth", "auth_for", "region_hint"]

SIGNING_NAME = "bedrock"
BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
_KEY_OPTIONS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_lock = threading.Lock()  # first resolutions run in threads; one at a time per process


def region_hint(ctx: ProviderContext) -> str | None:
    """The region from config or the environment, without touching botocore."""
    return ctx.setting("region", *REGION_ENV)


class AwsAuth:
    """One provider instance's credentials: a bearer token, or SigV4 with refresh."""

    def __init__(self, *, token: str | None = None, credentials: Any = None,
                 region: str | None = None) -> None:
        self.token = token
        self.credentials = credentials  # botocore Credentials (maybe RefreshableCredentials)
        self.region = region
        self._sigv4: Any = None
        self._request: Any = None
        self._last: Any = None  # the frozen credentials of the last signature

    @property
    def bearer(self) -> bool:
        return self.token is not None

    def secrets(self) -> list[str]:
        """Values to redact: the token, or the secret key and session token last used
        (read from the last snapshot: asking botocore could start a blocking refresh)."""
        if self.token:
            return [self.token]
        frozen = self._last
        return [s for s in (frozen.secret_key, frozen.token) if s] if frozen else []

    async def frozen(self) -> Any:
        """Current credentials; a refresh botocore asks for runs off the event loop."""
        creds = self.credentials
        needs = getattr(creds, "refresh_needed", None)
        if needs is not None and needs():
            self._last = await asyncio.to_thread(_frozen, creds)
        else:
            self._last = _frozen(creds)
        return self._last

    async def sign(self, method: str, url: str, body: bytes | None,
                   headers: Mapping[str, str], *, region: str) -> list[tuple[str, str]]:
        """The headers to send: ``headers`` plus the authentication ones."""
        if self.token is not None:
            return [*headers.items(), ("Authorization", f"Bearer {self.token}")]
        frozen = await self.frozen()
        if self._sigv4 is None:  # modules already imported by the resolution thread
            from botocore.auth import SigV4Auth  # type: ignore[import-untyped, unused-ignore]
            from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped, unused-ignore]
            self._sigv4, self._request = SigV4Auth, AWSRequest
        request = self._request(method=method, url=url, data=body or b"", headers=dict(headers))
        # Host is left to botocore: it derives the same authority our transport sends.
        self._sigv4(frozen, SIGNING_NAME, region).add_auth(request)
        return list(request.headers.items())


def _frozen(creds: Any) -> Any:
    try:
        return creds.get_frozen_credentials()
    except Exception as exc:  # botocore raises its own tree; callers expect ours
        raise errors.AuthenticationError(f"refreshing AWS credentials failed: {exc}") from None


def _bearer(ctx: ProviderContext) -> str | None:
    if str(ctx.option("auth") or "").lower() == "sigv4":
        return None
    return ctx.setting("api_key", BEARER_ENV)


async def auth_for(ctx: ProviderContext) -> AwsAuth:
    """The instance's auth, resolved once (in a worker thread) and kept in ``ctx.state``."""
    cached = ctx.state.get("aws_auth")
    if isinstance(cached, AwsAuth):
        return cached
    auth: AwsAuth
    token = _bearer(ctx)
    region = region_hint(ctx)
    if token is not None and region is not None:
        auth = AwsAuth(token=token, region=region)  # no botocore needed at all
    else:
        options, env = dict(ctx.options), dict(ctx.env)
        auth = await asyncio.to_thread(_resolve, ctx.state, ctx.name, options, env, token,
                                       region)
    ctx.state["aws_auth"] = auth
    return auth


def _resolve(state: dict[str, Any], name: str, options: dict[str, Any], env: dict[str, str],
             token: str | None, region: str | None) -> AwsAuth:
    with _lock:
        done = state.get("aws_auth")
        if isinstance(done, AwsAuth):  # a concurrent first call resolved it while we waited
            return done
        try:
            auth = _resolve_locked(name, options, env, token, region)
            state["aws_auth"] = auth  # set before the lock is released
            return auth
        except errors.PlugbayError:
            raise
        except Exception as exc:  # ProfileNotFound, SSO token expired, bad config file...
            raise errors.AuthenticationError(
                f"AWS credentials could not be resolved: {type(exc).__name__}: {exc}",
                provider=name) from None


def _resolve_locked(name: str, options: dict[str, Any], env: dict[str, str],
                    token: str | None, region: str | None) -> AwsAuth:
    # Imported here, off the loop, so that signing later never pays for the import.
    import botocore.auth  # type: ignore[import-untyped, unused-ignore]
    import botocore.awsrequest  # type: ignore[import-untyped, unused-ignore]
    import botocore.session  # type: ignore[import-untyped, unused-ignore]
    from botocore.configprovider import (  # type: ignore[import-untyped, unused-ignore]
        BOTOCORE_DEFAUT_SESSION_VARIABLES,
    )
    from botocore.credentials import (  # type: ignore[import-untyped, unused-ignore]
        ContainerProvider,
        EnvProvider,
    )

    session = botocore.session.Session()
    # The instance's environment snapshot wins where it differs from the process one
    # (where they agree botocore reads the same value itself, with its own precedence).
    for var, spec in BOTOCORE_DEFAUT_SESSION_VARIABLES.items():
        names = spec[1] if isinstance(spec[1], (tuple, list)) else (spec[1],)
        for env_name in names:
            value = env.get(env_name) if env_name else None
            if value:
                if value != os.environ.get(env_name):
                    session.set_config_variable(var, spec[3](value) if spec[3] else value)
                break
    profile = options.get("profile")
    if profile:
        session.set_config_variable("profile", str(profile))
    region = region or session.get_config_variable("region")  # e.g. from the profile
    if token is not None:
        return AwsAuth(token=token, region=region)

    keys = [options.get(k) for k in _KEY_OPTIONS]
    if keys[0] and keys[1]:
        session.set_credentials(str(keys[0]), str(keys[1]), str(keys[2]) if keys[2] else None)
    else:
        resolver = session.get_component("credential_provider")
        providers = resolver.providers
        methods = [getattr(p, "METHOD", None) for p in providers]
        if "env" in methods:
            providers[methods.index("env")] = EnvProvider(environ=env)
        elif not profile:
            # botocore drops env keys when a profile is set; boto3 does so only for an
            # explicit profile, and AWS_PROFILE from the environment is not one.
            providers.insert(0, EnvProvider(environ=env))
        if "container-role" in methods:
            providers[methods.index("container-role")] = ContainerProvider(environ=env)
    credentials = session.get_credentials()
    if credentials is None:
        raise errors.MissingAPIKeyError(name, [
            BEARER_ENV, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"])
    # Deferred providers (role assumption, SSO, IMDS) fetch on first use: do it here, in
    # this thread, so the first request does not block the loop and errors surface now.
    credentials.get_frozen_credentials()
    return AwsAuth(credentials=credentials, region=region)
