"""OpenTelemetry for plugbay calls (``pip install 'plugbay[otel]'``), following the GenAI
semantic conventions: one ``chat <model>`` client span per call with ``gen_ai.*``
attributes, and the ``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration``
histograms.

Turn it on with ``[otel] enabled = true`` (global providers) or in code::

    from plugbay.otel import instrument
    instrument(client, tracer_provider=tp, meter_provider=mp)

Spans are made when a call ends (start time set from its latency), from the same record
the ledger gets, so instrumentation costs nothing while the call runs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.client import Client
    from plugbay.cost.ledger.records import UsageRecord

__all__ = ["TOKEN_BUCKETS", "Instrumentation", "instrument"]

# The bucket boundaries the conventions recommend for gen_ai.client.token.usage.
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864]
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92]


def _otel() -> tuple[Any, Any]:
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        raise errors.ConfigError("OpenTelemetry needs: pip install 'plugbay[otel]'",
                                 key="otel.enabled") from None
    return trace, metrics


class Instrumentation:
    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        trace, metrics = _otel()
        from plugbay import __version__

        self._trace = trace
        self.tracer = trace.get_tracer("plugbay", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("plugbay", __version__, meter_provider=meter_provider)
        self.tokens = _histogram(meter, "gen_ai.client.token.usage", "{token}",
                                 "Number of input and output tokens used.", TOKEN_BUCKETS)
        self.duration = _histogram(meter, "gen_ai.client.operation.duration", "s",
                                   "GenAI operation duration.", DURATION_BUCKETS)

    def record(self, r: UsageRecord) -> None:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": r.provider,
            "gen_ai.provider.name": r.provider,
            "gen_ai.request.model": r.model,
            "gen_ai.response.model": r.model,
        }
        if r.error:
            attrs["error.type"] = r.error
        latency = r.latency or 0.0
        self.duration.record(latency, attrs)
        if r.status == "ok":
            self.tokens.record(r.input_tokens, {**attrs, "gen_ai.token.type": "input"})
            self.tokens.record(r.output_tokens, {**attrs, "gen_ai.token.type": "output"})
        end = time.time_ns()
        span = self.tracer.start_span(
            f"chat {r.model}", kind=self._trace.SpanKind.CLIENT,
            start_time=end - int(latency * 1e9), attributes={
                **attrs,
                "gen_ai.usage.input_tokens": r.input_tokens,
                "gen_ai.usage.output_tokens": r.output_tokens,
                **({"gen_ai.response.id": r.request_id} if r.request_id else {}),
                **({"plugbay.route": r.route} if r.route else {}),
                **({"plugbay.cost": r.cost} if r.cost is not None else {}),
                **({f"plugbay.tag.{k}": v for k, v in (r.tags or {}).items()}),
            })
        if r.status == "error":
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, r.error))
        span.end(end_time=end)


def _histogram(meter: Any, name: str, unit: str, description: str,
               buckets: list[float] | list[int]) -> Any:
    try:
        return meter.create_histogram(name, unit=unit, description=description,
                                      explicit_bucket_boundaries_advisory=buckets)
    except TypeError:  # an older API without bucket advice
        return meter.create_histogram(name, unit=unit, description=description)


def instrument(client: Client, *, tracer_provider: Any = None,
               meter_provider: Any = None) -> Instrumentation:
    """Emit spans and metrics for every call ``client`` makes from now on."""
    inst = Instrumentation(tracer_provider, meter_provider)
    client.metering.otel = inst
    return inst
