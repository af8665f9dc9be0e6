"""Read what providers say in response headers: retry hints, request ids, rate limits.

Shared by every plugin's error mapping, so that retries and the ledger see the
same figures whichever provider answered.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

from plugbay import errors

__all__ = ["api_error", "rate_limits", "request_id", "retry_after"]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id", "x-amzn-requestid",
                       "x-goog-request-id", "cf-ray")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?"
                       r"(?:(\d+(?:\.\d+)?)ms)?$")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def parse_duration(value: str) -> float | None:
    """``6m0s`` / ``1.5s`` / ``250ms`` / ``20`` -> seconds (OpenAI/Groq reset headers)."""
    try:
        return float(value)
    except ValueError:
        pass
    m = _DURATION.match(value.strip())
    if not m or not any(m.groups()):
        return None
    h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


def rate_limits(headers: Mapping[str, str]) -> dict[str, Any]:
    """Rate-limit status from ``x-ratelimit-*``, ``anthropic-ratelimit-*`` and
    ``ratelimit-*`` headers, keyed by the header name without its prefix."""
    out: dict[str, Any] = {}
    for name in headers:
        lname = name.lower()
        for prefix in ("x-ratelimit-", "anthropic-ratelimit-", "ratelimit-"):
            if lname.startswith(prefix):
                key = lname[len(prefix):]
                value = headers[name]
                try:
                    out[key] = int(value)
                except ValueError:
                    out[key] = value
                break
    return out


def api_error(
    status: int,
    headers: Mapping[str, str],
    message: str,
    *,
    provider: str | None,
    body: Any = None,
    cls: type[errors.APIError] | None = None,
    code: str | None = None,
    retryable: bool | None = None,
    secrets: list[str] | None = None,
) -> errors.APIError:
    """Build the error for an HTTP failure, with the hints every error carries."""
    kind = cls or errors.error_for_status(status)
    should = headers.get("x-should-retry")
    if retryable is None and should in ("true", "false"):
        retryable = should == "true" and kind not in (errors.AuthenticationError,
                                                        errors.QuotaExceededError)
    message = errors.redact(message, secrets or [])
    return kind(
        message,
        provider=provider,
        status=status,
        request_id=request_id(headers),
        retryable=retryable,
        retry_after=retry_after(headers),
        body=errors.redact(body, secrets or []),
        code=code,
    )
