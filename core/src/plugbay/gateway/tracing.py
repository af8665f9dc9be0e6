"""The gateway's server spans (``[otel] enabled = true``): each worker wraps its ASGI app in
``opentelemetry-instrumentation-asgi``'s middleware, so every HTTP request is a SERVER
span continuing the caller's ``traceparent``, and plugbay's ``chat <model>`` client span
(``plugbay.otel``) is its child: the middleware makes the span current, and contextvars
carry it into the call.

The tracer provider is the global one: ``opentelemetry-instrument plugbay serve ...``
configures it from the ``OTEL_*`` variables in every process, the spawned workers
included (docs/gateway.md, Operations). Without ``[otel]`` nothing here is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugbay import errors

__all__ = ["EXCLUDED", "SANITIZED", "check", "flush", "wrap"]

# Probes and scrapes are not traced: a load balancer's /health every second would bury
# the calls. OTEL_PYTHON_ASGI_EXCLUDED_URLS (or OTEL_PYTHON_EXCLUDED_URLS) replaces this.
EXCLUDED = "/health$,/ready$,/metrics$"
# Should an operator capture request headers (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*),
# the caller's key is still never a span attribute.
SANITIZED = ["authorization", "x-api-key", "cookie", "set-cookie"]


def _middleware() -> Any:
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        raise errors.ConfigError(
            "the gateway's OpenTelemetry needs: pip install 'plugbay[otel,gateway]'",
            key="otel.enabled") from None
    return OpenTelemetryMiddleware


def check() -> None:
    """``ConfigError`` now (in ``plugbay serve``, before any worker) if a package is missing."""
    _middleware()


def wrap(app: Any, env: Mapping[str, str]) -> Any:
    """``app`` inside the OpenTelemetry ASGI middleware."""
    middleware = _middleware()
    excluded = (env.get("OTEL_PYTHON_ASGI_EXCLUDED_URLS")
                or env.get("OTEL_PYTHON_EXCLUDED_URLS") or EXCLUDED)
    # passing the list replaces the middleware's own reading of this variable: keep it
    given = env.get("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "")
    sanitize = [f.strip() for f in given.split(",") if f.strip()]
    # The per-message "http send"/"http receive" spans are off: a stream would make one
    # per chunk. The SERVER span still covers the request to its last byte.
    return middleware(app, excluded_urls=excluded,
                      http_capture_headers_sanitize_fields=[*SANITIZED, *sanitize],
                      exclude_spans=["receive", "send"])


def flush(timeout_ms: int = 5000) -> None:
    """Export what the SDK still holds, at a worker's lifespan shutdown. Needed: after a
    graceful stop uvicorn re-raises SIGTERM with its default action, so the SDK's atexit
    flush never runs and the last batch (up to OTEL_BSP_SCHEDULE_DELAY of spans) would be
    lost at every stop and reload. Blocking (it exports): call it in a thread."""
    from opentelemetry import metrics, trace

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        force_flush = getattr(provider, "force_flush", None)  # the SDK's; the API's no-op has none
        if force_flush is not None:
            force_flush(timeout_ms)
