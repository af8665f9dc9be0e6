"""The mock's options: checked, then layered from the instance up to the call.

Each option can be set in four places; a later one wins:

1. the instance, ``[providers.mock] reply = "..."``;
2. the model's name: ``echo`` (reply with the last user message), ``error-<kind>``;
3. the model's own table, ``[providers.mock.models."<id>"] reply = "..."``;
4. the call, ``mock_<option>=...`` (``mock_response`` for ``reply``, as in LiteLLM).

A bad value in the config is a ``ConfigError`` naming the key; a bad ``mock_*`` parameter
is an ``InvalidRequestError`` naming it. A misspelt name gets the nearest valid one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from plugbay import errors

__all__ = ["CALL_PARAMS", "ECHO", "ERROR_KINDS", "Options", "call_options", "instance",
           "model_options"]

ECHO = object()  # the reply is the last user message

# kind -> (HTTP status or None, error class, error code)
ERROR_KINDS: dict[str, tuple[int | None, type[errors.APIError], str | None]] = {
    "invalid": (400, errors.InvalidRequestError, "invalid_request"),
    "context_length": (400, errors.ContextLengthError, "context_length_exceeded"),
    "content_filter": (400, errors.ContentFilterError, "content_filter"),
    "auth": (401, errors.AuthenticationError, "invalid_api_key"),
    "permission": (403, errors.PermissionDeniedError, "permission_denied"),
    "not_found": (404, errors.ModelNotFoundError, "model_not_found"),
    "quota": (429, errors.QuotaExceededError, "insufficient_quota"),
    "rate_limit": (429, errors.RateLimitError, "rate_limit_exceeded"),
    "server": (500, errors.ProviderError, "server_error"),
    "overloaded": (503, errors.OverloadedError, "overloaded"),
    "timeout": (None, errors.TimeoutError, "timeout"),
    "connection": (None, errors.ConnectionError, "connection_error"),
}
USAGE_KEYS = {"input": "input_tokens", "output": "output_tokens",
              "cached": "cached_input_tokens", "cache_write": "cache_write_tokens",
              "reasoning": "reasoning_tokens"}
# Keys every provider table may carry; the mock has no use for a key or a URL.
CORE_KEYS = frozenset({"plugin", "api_key", "base_url", "timeout", "prices", "models"})


@dataclass(frozen=True)
class Options:
    reply: Any = None            # str, ECHO, or None for the default reply
    latency: float = 0.0         # seconds before the answer (or the error) starts
    chunk_latency: float = 0.0   # seconds between streamed chunks
    error: int | str | None = None  # an HTTP status or an ERROR_KINDS name
    retry_after: float | None = None
    chunks: int | None = None    # stream the text in N pieces (default: one per word)
    cut_after: int | None = None  # streams: StreamError after N text chunks
    tool_call: dict[str, Any] | None = None  # {"name": ..., "arguments": "<json>"}
    usage: dict[str, int] = field(default_factory=dict)  # Usage field -> count


def _number(value: Any, *, integer: bool = False, least: float = 0) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {value!r}")
    if integer and not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {value!r}")
    if value < least:
        raise ValueError(f"must be at least {least:g}, not {value!r}")
    return value


def error_spec(value: Any) -> int | str:
    """``429``, ``"429"`` or a kind name (``rate_limit``, ``rate-limit``)."""
    text = str(value).strip().lower().replace("-", "_")
    if (isinstance(value, int) and not isinstance(value, bool)) or text.isdigit():
        status = int(text)
        if not 400 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP error status (400-599)")
        return status
    if isinstance(value, str) and text in ERROR_KINDS:
        return text
    raise ValueError(f"{value!r} is neither an HTTP status (400-599) nor one of "
                     f"{', '.join(ERROR_KINDS)}")


def _tool_call(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping) or set(value) - {"name", "arguments"}:
        raise ValueError('must be a table like {name = "get_weather", arguments = {...}}')
    name, args = value.get("name"), value.get("arguments", {})
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name must be a string, not {name!r}")
    if isinstance(args, Mapping):
        args = json.dumps(dict(args))
    elif not isinstance(args, str):  # a string is sent as is, even if it is not JSON
        raise ValueError(f"arguments must be a table or a JSON string, not {args!r}")
    return {"name": name, "arguments": args}


def _usage(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping) or set(value) - set(USAGE_KEYS):
        raise ValueError(f"must be a table with keys among {', '.join(USAGE_KEYS)}")
    return {USAGE_KEYS[k]: int(_number(v, integer=True)) for k, v in value.items()}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {value!r}")
    return value


CHECKS: dict[str, Callable[[Any], Any]] = {
    "reply": _text,
    "latency": _number,
    "chunk_latency": _number,
    "error": error_spec,
    "retry_after": lambda v: _number(v, least=0.001),
    "chunks": lambda v: _number(v, integer=True, least=1),
    "cut_after": lambda v: _number(v, integer=True),
    "tool_call": _tool_call,
    "usage": _usage,
}
_DEFAULTS = Options()
CALL_PARAMS = {"mock_response": "reply", **{f"mock_{k}": k for k in CHECKS if k != "reply"}}


def _nearest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"


def _checked(table: Mapping[str, Any], where: str, *, allowed: frozenset[str] = frozenset(),
             ) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if key in allowed:
            continue
        check = CHECKS.get(key)
        if check is None:
            raise errors.ConfigError(f"unknown mock option{_nearest(key, [*CHECKS])}",
                                     key=f"{where}.{key}")
        try:
            out[key] = check(value)
        except (ValueError, TypeError) as exc:
            raise errors.ConfigError(str(exc), key=f"{where}.{key}") from None
    return out


@dataclass(frozen=True)
class Instance:
    """One instance's checked options: its own, and each configured model's."""

    options: dict[str, Any]
    models: dict[str, dict[str, Any]]


def instance(name: str, table: Mapping[str, Any]) -> Instance:
    """Check ``[providers.<name>]`` and its ``models`` tables."""
    where = f"providers.{name}"
    own = _checked(table, where, allowed=CORE_KEYS)
    models = table.get("models") or {}
    if not isinstance(models, Mapping) or not all(isinstance(v, Mapping)
                                                  for v in models.values()):
        raise errors.ConfigError('must be tables like [providers.mock.models."greeter"]',
                                 key=f"{where}.models")
    return Instance(own, {m: _checked(t, f"{where}.models.{m}") for m, t in models.items()})


def model_options(model: str, provider: str) -> dict[str, Any]:
    """What a model's name alone asks for: ``echo``, ``error-429``, ``error-rate-limit``."""
    if model == "echo":
        return {"reply": ECHO}
    if model.startswith("error-"):
        try:
            return {"error": error_spec(model[len("error-"):])}
        except ValueError as exc:
            raise errors.ModelNotFoundError(
                f"mock has no model {model!r}: the part after 'error-' {exc}",
                provider=provider, code="model_not_found") from None
    return {}


def call_options(extra: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """The call's ``mock_*`` parameters; other ``extra`` keys are ignored, as a body field
    the mock has no use for."""
    out = {}
    for key, value in extra.items():
        if not key.startswith("mock_"):
            continue
        option = CALL_PARAMS.get(key)
        if option is None:
            raise errors.InvalidRequestError(
                f"unknown mock parameter {key!r}{_nearest(key, [*CALL_PARAMS])}",
                provider=provider, code="invalid_mock_parameter")
        if value is None:  # unsets what the config says, for this call
            out[option] = getattr(_DEFAULTS, option)
            continue
        try:
            out[option] = CHECKS[option](value)
        except (ValueError, TypeError) as exc:
            raise errors.InvalidRequestError(f"mock parameter {key!r} {exc}",
                                             provider=provider,
                                             code="invalid_mock_parameter") from None
    return out


def resolve(inst: Instance, model: str, extra: Mapping[str, Any], provider: str) -> Options:
    """The options of one call: instance, model name, model table, call, in that order."""
    layered = {**inst.options, **model_options(model, provider), **inst.models.get(model, {}),
               **call_options(extra, provider)}
    return replace(Options(), **layered)
