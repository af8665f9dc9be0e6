"""{{ cookiecutter.display_name }}'s wire format, as pure functions.

From plugbay types to the provider's JSON and back, with no I/O: the hooks in
``__init__.py`` do the HTTP, so every function can be tested on its own. Each one
still to write raises NotImplementedError naming the README checklist step it
belongs to; the failing tests list exactly those steps.
Keep this file under 400 lines (split streaming into its own module if it grows).
"""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.types import FinishReason, ModelInfo, Request, StreamEvent, Usage

# TO FILL IN: the provider's finish reasons -> plugbay's ("stop", "length", "tool_calls",
# "content_filter", "error", "other"), e.g. {"end_turn": "stop", "max_tokens": "length"}.
FINISH_REASONS: dict[str, FinishReason] = {}


def _todo(step: str, what: str) -> NotImplementedError:
    return NotImplementedError(f"step {step!r}: codec.{what} is not written "
                               "(see the checklist in README.md)")


def build_body(request: Request, *, stream: bool) -> dict[str, Any]:
    """The JSON body for ``request``: messages (text and ``ImagePart`` images), system
    prompt, sampling parameters, ``tools``/``tool_choice``, ``response_format``, the
    stream flag; finish with ``request.merge_extra(body)`` (the caller's provider-specific
    keys, merged one level deep)."""
    raise _todo("request and response handling", "build_body")


def parse_response(data: Any) -> dict[str, Any]:
    """``Completion`` fields from a non-stream response: ``text``, ``tool_calls``
    (``ToolCall`` with JSON ``arguments``), ``finish_reason`` (via ``finish_reason()``),
    ``raw_finish_reason``, ``usage`` (via ``parse_usage()``), ``id`` and ``model``."""
    raise _todo("request and response handling", "parse_response")


def parse_usage(raw: Any) -> Usage | None:
    """Token counts as ``Usage`` (input, output, cached input, cache writes, reasoning);
    count what is billed, since the cost is computed from these numbers. None if absent."""
    raise _todo("cost calculation", "parse_usage")


def finish_reason(raw: str | None) -> FinishReason:
    """The normalised finish reason; ``None`` (the provider sent none) means stop."""
    if raw is None:
        return "stop"
    return FINISH_REASONS.get(raw, "other")


def stream_events(event: str, data: str, state: dict[str, Any]) -> list[StreamEvent]:
    """The plugbay events in one stream event (``event`` is the SSE event name, ``data``
    its payload): ``TextDelta``, ``ReasoningDelta``, ``ToolCallDelta``. Record the usage
    as ``state["usage"]`` (a ``Usage``), the raw finish reason as ``state["finish"]``, and
    set ``state["done"] = True`` only on the provider's terminal event."""
    raise _todo("streaming", "stream_events")


def stream_error(event: str, data: str) -> tuple[int, str, str | None] | None:
    """``(status, message, code)`` when a stream event is an error, else None. A mid-stream
    error must raise its typed error, never end the stream quietly."""
    raise _todo("error handling", "stream_error")


def parse_error(raw: bytes | str | Any) -> tuple[str, str | None, Any]:
    """``(message, code, body)`` from an error response body. Bodies are not always
    JSON (proxies answer HTML): fall back to the text, never raise."""
    raise _todo("error handling", "parse_error")


def error_class(status: int, code: str | None, message: str) -> type[errors.APIError] | None:
    """Refine the class the HTTP status gives (``errors.error_for_status``) from the body.

    TO FILL IN from the provider's error reference, for example:
    context too long -> ``errors.ContextLengthError``, out of credit ->
    ``errors.QuotaExceededError``, blocked content -> ``errors.ContentFilterError``.
    """
    return None


def parse_models(data: Any, provider: str) -> list[ModelInfo]:
    """The model listing as ``ModelInfo`` items (ids as the API spells them, context
    window and capabilities only where the listing states them)."""
    raise _todo("model discovery", "parse_models")

