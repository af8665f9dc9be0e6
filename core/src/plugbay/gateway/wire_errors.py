"""Errors on the gateway's wire: what a caller sent wrong, and any plugbay error as the
status and JSON body that make the official OpenAI and Anthropic SDKs raise their
matching class.

=====================================  ======  ==============================
plugbay error                          status  OpenAI ``type`` / Anthropic
=====================================  ======  ==============================
AuthenticationError (the caller's key)  401    authentication_error
PermissionDeniedError (the key's)       403    permission_error
ModelNotFoundError, an unknown model  404    not_found_error
InvalidRequestError, WireError          400    invalid_request_error
RateLimitError, Quota, BudgetExceeded   429    rate_limit_error (Retry-After)
OverloadedError                         529    overloaded_error (OpenAI: 503)
TimeoutError                            504    timeout_error
an upstream's own 401/403 (our key)     502    api_error: the caller's key was fine
anything else                           502    api_error
=====================================  ======  ==============================
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from plugbay import errors

__all__ = ["Failure", "WireError", "expect", "failure"]

T = TypeVar("T")

_NAMES = {int: "an integer", str: "a string", list: "an array", dict: "an object",
          float: "a number", bool: "a boolean"}


class WireError(errors.InvalidRequestError):
    """A request field the gateway cannot read; ``param`` names it."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message, status=400, code="invalid_request")
        self.param = param


def expect(value: Any, kind: type[T], where: str) -> T:
    """``value`` if it is a ``kind``, else a ``WireError`` naming ``where``."""
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    got = "nothing" if value is None else type(value).__name__
    raise WireError(f"{where} must be {_NAMES.get(kind, kind.__name__)} (got {got})",
                    param=where)


class Failure:
    """One error as an HTTP answer: ``status``, headers, and each surface's body."""

    __slots__ = ("anthropic_type", "code", "headers", "message", "openai_type", "param",
                 "status")

    def __init__(self, status: int, openai_type: str, anthropic_type: str, message: str,
                 *, param: str | None = None, code: str | None = None,
                 retry_after: float | None = None) -> None:
        self.status, self.message, self.param, self.code = status, message, param, code
        self.openai_type, self.anthropic_type = openai_type, anthropic_type
        self.headers: list[tuple[bytes, bytes]] = []
        if retry_after is not None:
            self.headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))

    def openai(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.openai_type,
                          "param": self.param, "code": self.code}}

    def anthropic(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.anthropic_type,
                                           "message": self.message}}


def _upstream_auth(exc: errors.APIError) -> bool:
    # A provider refused the gateway's own credentials: not the caller's fault.
    return exc.provider is not None and isinstance(
        exc, (errors.AuthenticationError, errors.PermissionDeniedError))


def failure(exc: BaseException, *, openai: bool = True) -> Failure:
    """``exc`` as the answer the SDKs understand. Messages never carry upstream keys:
    plugbay's errors are redacted where they are made."""
    if isinstance(exc, WireError):
        return Failure(400, "invalid_request_error", "invalid_request_error", exc.message,
                       param=exc.param, code=exc.code)
    if isinstance(exc, errors.APIError):
        message = str(exc)
        retry = exc.retry_after
        if _upstream_auth(exc):
            return Failure(502, "api_error", "api_error",
                           f"the upstream provider refused the gateway's credentials "
                           f"({exc.provider}); tell the gateway's operator", code="upstream_auth")
        if isinstance(exc, errors.AuthenticationError):
            return Failure(401, "authentication_error", "authentication_error", message,
                           code=exc.code or "invalid_api_key")
        if isinstance(exc, errors.PermissionDeniedError):
            return Failure(403, "permission_error", "permission_error", message, code=exc.code)
        if isinstance(exc, errors.ModelNotFoundError):
            return Failure(404, "not_found_error", "not_found_error", message,
                           param="model", code="model_not_found")
        if isinstance(exc, errors.InvalidRequestError):
            return Failure(400, "invalid_request_error", "invalid_request_error", message,
                           code=exc.code)
        if isinstance(exc, (errors.RateLimitError, errors.QuotaExceededError)):
            return Failure(429, "rate_limit_error", "rate_limit_error", message,
                           code=exc.code or "rate_limit_exceeded",
                           retry_after=retry if retry is not None else 1.0)
        if isinstance(exc, errors.OverloadedError):
            return Failure(529 if not openai else 503, "overloaded_error", "overloaded_error",
                           message, retry_after=retry)
        if isinstance(exc, errors.TimeoutError):
            return Failure(504, "timeout_error", "timeout_error", message)
        return Failure(502, "api_error", "api_error", message, code=exc.code)
    if isinstance(exc, errors.PluginError) or (
            isinstance(exc, errors.ConfigError) and "unknown agent" in str(exc)):
        # no plugin, route or agent by the name the caller gave as ``model``
        return Failure(404, "not_found_error", "not_found_error", str(exc), param="model",
                       code="model_not_found")
    return Failure(500, "api_error", "api_error", "internal error in the gateway")
