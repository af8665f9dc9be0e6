"""Replicate predictions: where to create them, how to read them, how they fail.

Pure functions over dicts. A prediction is created for an official model
(``owner/name``), a version (``owner/name:<version>`` or a bare 64-hex id) or a
deployment (``deployments/owner/name``); it moves through ``starting`` and
``processing`` to ``succeeded``, ``failed``, ``canceled`` or ``aborted``. LLM output is
an array of string tokens to concatenate. Errors are RFC 7807 ``problem+json``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from plugbay import errors
from plugbay.types import ModelInfo, Usage

__all__ = ["TERMINAL", "create_target", "error_class", "model_info", "output_text",
           "parse_problem", "parse_usage", "prediction_error"]

TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
_VERSION_ID = re.compile(r"[0-9a-f]{64}")
_CONTEXT_HINTS = ("context length", "context window", "too many tokens", "prompt is too long",
                  "maximum context", "exceeds the maximum")


def create_target(model: str) -> tuple[str, dict[str, Any]]:
    """(path under the base URL, extra body fields) for creating a prediction of ``model``."""
    if model.startswith("deployments/"):
        owner_name = model.removeprefix("deployments/")
        return f"/deployments/{owner_name}/predictions", {}
    if _VERSION_ID.fullmatch(model):
        return "/predictions", {"version": model}
    if ":" in model:
        _, version = model.split(":", 1)
        return "/predictions", {"version": version}
    if model.count("/") != 1:
        raise errors.InvalidRequestError(
            f"Replicate model ids are 'owner/name', 'owner/name:<version>' or "
            f"'deployments/owner/name', not {model!r}", provider="replicate")
    return f"/models/{model}/predictions", {}


def output_text(output: Any) -> str:
    """The text of a prediction's output: token arrays are concatenated."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(x, str) for x in output):
        return "".join(output)
    return json.dumps(output, ensure_ascii=False)


def parse_usage(prediction: dict[str, Any]) -> Usage | None:
    metrics = prediction.get("metrics") or {}
    if "input_token_count" not in metrics and "output_token_count" not in metrics:
        return None
    return Usage(input_tokens=int(metrics.get("input_token_count") or 0),
                 output_tokens=int(metrics.get("output_token_count") or 0))


def error_class(status: int | None, message: str) -> type[errors.APIError] | None:
    low = message.lower()
    if any(h in low for h in _CONTEXT_HINTS):
        return errors.ContextLengthError
    if status == 404 and "model" not in low and "version" not in low and "resource" not in low:
        return errors.InvalidRequestError
    return None


def prediction_error(prediction: dict[str, Any], provider: str) -> errors.APIError:
    """The typed error for a prediction that ended ``failed``, ``canceled`` or ``aborted``."""
    status = prediction.get("status")
    pid = prediction.get("id")
    detail = prediction.get("error")
    message = detail if isinstance(detail, str) else json.dumps(detail) if detail else ""
    body = {k: prediction.get(k) for k in ("id", "status", "error", "model", "version")}
    if status == "canceled":
        return errors.ProviderError(f"prediction {pid} was canceled", provider=provider,
                                    request_id=pid, retryable=False, code="canceled", body=body)
    if status == "aborted":
        # A Cancel-After deadline passed before the prediction started running.
        return errors.TimeoutError(f"prediction {pid} was aborted before it started "
                                   "(its deadline passed)", provider=provider,
                                   request_id=pid, code="aborted", body=body)
    cls = error_class(None, message) or errors.ProviderError
    # A model that failed on this input fails again on a retry: not retryable.
    return cls(f"prediction {pid} failed: {message or 'no error message'}", provider=provider,
               request_id=pid, retryable=False, code="failed", body=body)


def parse_problem(raw: bytes | str) -> tuple[str, Any]:
    """(message, body) from ``application/problem+json`` (``title``, ``detail``,
    ``status``, and ``invalid_fields`` on 422) or anything else a proxy sent."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return text.strip()[:500] or "empty error body", text[:2000]
    if not isinstance(body, dict):
        return str(body)[:500], body
    message = body.get("detail") or body.get("title") or body.get("error") or "unknown error"
    if not isinstance(message, str):
        message = json.dumps(message)[:1000]
    fields = body.get("invalid_fields")
    if isinstance(fields, list) and fields:
        parts = [f"{f.get('field', '?')}: {f.get('description') or f.get('type') or ''}".strip()
                 for f in fields if isinstance(f, dict)]
        message = f"{message} ({'; '.join(parts)})"
    return message, body


def model_info(item: dict[str, Any], provider: str, base: ModelInfo | None) -> ModelInfo:
    model_id = f"{item.get('owner')}/{item.get('name')}"
    info = base or ModelInfo(id=model_id, provider=provider)
    for key in ("description", "run_count", "url", "visibility", "is_official"):
        if item.get(key) is not None:
            info.extra[key] = item[key]
    latest = item.get("latest_version")
    if isinstance(latest, dict) and latest.get("id"):
        info.extra["latest_version"] = latest["id"]
    return info
