"""The one error hierarchy of plugbay.

Every plugin maps its provider's wire errors into these classes, and the retry,
fallback and routing code reads nothing else::

    PlugbayError
    ├── ConfigError                  bad plugbay.toml / environment (file, key, reason)
    ├── PluginError                  a plugin is missing, failed to load, or failed
    │   ├── UnknownProviderError     no plugin serves that provider name
    │   └── PluginCallError          a plugin raised something foreign (also an APIError)
    └── APIError                     a call to a provider failed
        ├── AuthenticationError      401, 498; also a missing key (MissingAPIKeyError)
        │   └── MissingAPIKeyError
        ├── PermissionDeniedError    403
        ├── QuotaExceededError       402, 429 insufficient_quota: never retried
        ├── RateLimitError           429 (retry_after from the server, when given)
        ├── OverloadedError          529, 503 "overloaded"
        ├── TimeoutError             connect/read timeout, deadline exceeded, 408/504
        ├── ConnectionError          refused, reset, TLS, DNS, malformed HTTP
        ├── InvalidRequestError      400, 422
        │   └── ContextLengthError   the prompt does not fit the model's window
        ├── ModelNotFoundError       404 for a model
        ├── ContentFilterError       the prompt or answer was blocked
        ├── StreamError              a stream broke after it started (carries partial text)
        └── ProviderError            other 5xx and anything unrecognised
            └── MalformedResponseError   a body that does not parse (also a ValueError)
                └── ResponseTooLargeError  a body, streamed event or inflated body over its cap

Every ``APIError`` carries ``provider``, ``status``, ``request_id``, ``retryable``,
``retry_after`` and ``body`` (the provider's error body with secrets redacted).
``TimeoutError`` and ``ConnectionError`` deliberately shadow the builtins inside
this module's namespace only; import them as ``plugbay.errors.TimeoutError``.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AuthenticationError",
    "BatchUnsupportedError",
    "BudgetExceededError",
    "ConfigError",
    "ConnectionError",
    "ContentFilterError",
    "ContextLengthError",
    "InvalidRequestError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "ModelNotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "PlugbayError",
    "PluginCallError",
    "PluginError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseTooLargeError",
    "StreamError",
    "TimeoutError",
    "UnknownProviderError",
    "error_for_status",
    "malformed",
    "redact",
]

_Builtin_TimeoutError = builtins.TimeoutError

# Patterns that look like credentials even when we were not told the secret; compiled on
# first use (by re's cache, on an error path), not at import.
_SECRET_RE = (
    r"(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,}|r8_[A-Za-z0-9]{8,}|hf_[A-Za-z0-9]{8,}"
    r"|gsk_[A-Za-z0-9]{8,}|pplx-[A-Za-z0-9]{8,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]{8,})"
)
_SECRET_KEYS = frozenset(
    {"api_key", "api-key", "apikey", "authorization", "x-api-key", "x-goog-api-key", "token",
     "access_token", "secret", "password", "key"}
)
REDACTED = "[REDACTED]"


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Return a copy of ``value`` with known secrets and key-like strings replaced."""
    known = [s for s in secrets if s and len(s) >= 4]
    return _redact(value, known)


def _redact(value: Any, known: list[str]) -> Any:
    if isinstance(value, str):
        for secret in known:
            value = value.replace(secret, REDACTED)
        return re.sub(_SECRET_RE, REDACTED, value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and k.lower() in _SECRET_KEYS and v else
                _redact(v, known))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v, known) for v in value]
    return value


class PlugbayError(Exception):
    """Base class of every error plugbay raises on purpose."""


class ConfigError(PlugbayError):
    """Configuration is invalid. Names the file, the key and the reason."""

    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None) -> None:
        self.reason, self.file, self.key = reason, file, key
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {reason}" if where else reason)


class PluginError(PlugbayError):
    """A plugin could not be found or loaded."""


class BatchUnsupportedError(PluginError):
    """The provider's plugin implements no batch job hooks (see ``plugbay.batch.jobs``)."""


class UnknownProviderError(PluginError):
    """No installed plugin serves the requested provider name."""

    def __init__(self, provider: str, available: Iterable[str] = ()) -> None:
        self.provider = provider
        self.available = sorted(available)
        have = ", ".join(self.available) or "none"
        super().__init__(
            f"unknown provider {provider!r}; installed providers: {have}. "
            f"Install one with `pip install plugbay-<name>` or add [providers.{provider}] "
            "to plugbay.toml"
        )


class APIError(PlugbayError):
    """A provider call failed. Subclasses say how; attributes say where."""

    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        body: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.request_id = request_id
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.body = redact(body)
        self.code = code

    def __str__(self) -> str:
        parts = [p for p in (self.provider, str(self.status) if self.status else None) if p]
        prefix = f"[{' '.join(parts)}] " if parts else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"status={self.status!r}, retryable={self.retryable!r})"
        )


class AuthenticationError(APIError):
    """The credentials were missing, wrong or expired (401, 498)."""


class MissingAPIKeyError(AuthenticationError):
    """No credentials were configured. The message names the environment variable."""

    def __init__(self, provider: str, env_vars: Iterable[str]) -> None:
        self.env_vars = list(dict.fromkeys(env_vars))  # a plugin's fallbacks may repeat ours
        names = " or ".join(self.env_vars)
        super().__init__(  # str() prefixes "[provider]": the message does not repeat it
            f"no API key: set {names}, or api_key under "
            f"[providers.{provider}] in plugbay.toml",
            provider=provider,
        )


class PermissionDeniedError(APIError):
    """The credentials are valid but not allowed to do this (403)."""


class QuotaExceededError(APIError):
    """Credits or quota are exhausted (402, 429 insufficient_quota). Not retryable."""


class BudgetExceededError(QuotaExceededError):
    """A hard plugbay budget (``[budgets.<name>]``) would be overspent by this call; raised
    before anything is sent. ``budget`` names it; ``spent``/``limit`` are in its currency;
    ``downgrade_to`` is the cheaper route or model the budget names, if any."""

    def __init__(self, message: str, *, budget: str, spent: float, limit: float,
                 period: str, provider: str | None = None,
                 downgrade_to: str | None = None) -> None:
        super().__init__(message, provider=provider, code="budget_exceeded", retryable=False)
        self.budget, self.spent, self.limit, self.period = budget, spent, limit, period
        self.downgrade_to = downgrade_to


class RateLimitError(APIError):
    """Too many requests (429). ``retry_after`` holds the server's hint in seconds."""

    default_retryable = True


class OverloadedError(APIError):
    """The provider is overloaded (529, 503). Retryable."""

    default_retryable = True


class TimeoutError(APIError):
    """A connect, read or overall deadline passed (also 408 and 504)."""

    default_retryable = True


class ConnectionError(APIError):
    """The connection failed: refused, reset, TLS or malformed HTTP."""

    default_retryable = True


class InvalidRequestError(APIError):
    """The provider rejected the request as malformed (400, 422)."""


class ContextLengthError(InvalidRequestError):
    """The input does not fit the model's context window."""


class ModelNotFoundError(APIError):
    """The provider does not know this model (404)."""

    suggestions: list[str]


class ContentFilterError(APIError):
    """The provider's safety system blocked the prompt or the answer."""


class StreamError(APIError):
    """A stream failed after it had started. ``partial`` holds the text received so far."""

    default_retryable = True

    def __init__(self, message: str, *, partial: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.partial = partial


class ProviderError(APIError):
    """Any other provider failure: 5xx and unrecognised responses."""

    default_retryable = True


class MalformedResponseError(ProviderError, ValueError):
    """The provider's body could not be parsed (bad JSON, wrong shape). Retryable."""


class PluginCallError(PluginError, APIError):
    """A plugin raised an exception outside this tree (a bug, a bad URL): wrapped where
    the core calls the plugin, with the original as ``__cause__``. Not retryable on that
    provider instance; a route counts it against the target's breaker and fails over."""


def malformed(what: str, body: Any, *, provider: str | None = None,
              status: int | None = None) -> MalformedResponseError:
    """A ``MalformedResponseError`` naming ``what`` is wrong, with the start of ``body``
    (the parsed JSON or the raw text) shown redacted."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    shown = body if isinstance(body, str) else repr(body)
    return MalformedResponseError(f"{what}: {redact(shown[:200])!r}", provider=provider,
                                  status=status)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


class ResponseTooLargeError(MalformedResponseError):
    """A body read whole, one streamed event or line, or a compressed body once inflated,
    passed its size limit. ``limit`` is that limit in bytes and ``setting`` its name
    (``max_body`` or ``max_event``). Not retryable: the same request would get the same
    answer; a route may still fail over to another target."""

    default_retryable = False

    def __init__(self, what: str, *, limit: int, setting: str, **kw: Any) -> None:
        super().__init__(
            f"{what} is larger than the {_size(limit)} limit ({setting}); raise it with "
            f"[http] {setting} in plugbay.toml, or HTTPClient(limits=Limits({setting}=...))",
            **kw)
        self.limit, self.setting = limit, setting


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: QuotaExceededError,
    403: PermissionDeniedError,
    404: ModelNotFoundError,
    408: TimeoutError,
    409: ProviderError,
    413: ContextLengthError,
    422: InvalidRequestError,
    429: RateLimitError,
    498: AuthenticationError,
    503: OverloadedError,
    504: TimeoutError,
    529: OverloadedError,
}


def error_for_status(status: int) -> type[APIError]:
    """The default class for an HTTP status; plugins refine it from the body."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ProviderError
    if status >= 400:
        return InvalidRequestError
    return ProviderError


def is_timeout(exc: BaseException) -> bool:
    """True for plugbay's and the builtin timeout errors."""
    return isinstance(exc, (TimeoutError, _Builtin_TimeoutError))


# ------------------------------------------------------------------ embeddings


class EmbeddingUnsupportedError(PluginError):
    """The provider's plugin implements no ``embed`` hook (see ``client.embed``)."""


class InputTooLongError(ContextLengthError):
    """One input of ``client.embed`` is longer than the model takes; ``index`` is its
    position in the list the caller gave."""

    def __init__(self, message: str, *, index: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.index = index
