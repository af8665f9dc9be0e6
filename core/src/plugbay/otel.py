"""OpenTelemetry for plugbay calls (``pip install 'plugbay[otel]'``), following the GenAI
semantic conventions: one ``chat <model>`` client span per call with ``gen_ai.*``
attributes, and the ``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration``
histograms.

Turn it on with ``[otel] enabled = true`` (global providers) or in code::

    from plugbay.otel import instrument
    instrument(client, tracer_provider=tp, meter_provider=mp)

A span starts when an attempt starts and is the current span while the request is sent,
so the upstream request carries its ``traceparent`` (``instrument`` adds the propagation
to the client's HTTP layer). It ends with the same record the ledger gets. Attributes:
``gen_ai.provider.name`` is the provider (the plugin: ``openai``), ``plugbay.provider``
the configured instance (``openai-eu``), and ``gen_ai.response.model`` the model the
provider answered with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.call import Call
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
        from opentelemetry import propagate

        from plugbay import __version__

        self._trace = trace
        self._propagate = propagate
        self.tracer = trace.get_tracer("plugbay", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("plugbay", __version__, meter_provider=meter_provider)
        self.tokens = _histogram(meter, "gen_ai.client.token.usage", "{token}",
                                 "Number of input and output tokens used.", TOKEN_BUCKETS)
        self.duration = _histogram(meter, "gen_ai.client.operation.duration", "s",
                                   "GenAI operation duration.", DURATION_BUCKETS)

    def start(self, call: Call) -> Any:
        """A CLIENT span for one attempt, started now (not yet current)."""
        target = call.target
        model = call.request.model
        op = "embeddings" if hasattr(call.request, "inputs") else "chat"  # client.embed
        attrs: dict[str, Any] = {"gen_ai.operation.name": op,
                                 "gen_ai.request.model": model}
        if target is not None:
            system = target.ctx.plugin
            attrs.update({"gen_ai.provider.name": system, "gen_ai.system": system,
                          "plugbay.provider": target.name})
        if call.route:
            attrs["plugbay.route"] = call.route
        return self.tracer.start_span(f"{op} {model}", kind=self._trace.SpanKind.CLIENT,
                                      attributes=attrs)

    def current(self, span: Any) -> Any:
        """A context manager making ``span`` current (for ``traceparent``), not ending it."""
        return self._trace.use_span(span, end_on_exit=False)

    def inject(self, headers: list[tuple[str, str]]) -> None:
        """Add the current trace context (``traceparent``) to an outgoing request."""
        carrier: dict[str, str] = {}
        self._propagate.inject(carrier)
        headers.extend(carrier.items())

    def end(self, span: Any, r: UsageRecord, system: str,
            response_model: str | None = None) -> None:
        """Finish ``span`` from the attempt's ledger record, and record the metrics.
        ``system``: the provider's name (the plugin), not the configured instance."""
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": system,
                 "gen_ai.request.model": r.model}
        if r.error:
            attrs["error.type"] = r.error
        latency = r.latency or 0.0
        self.duration.record(latency, attrs)
        if r.status == "ok":
            self.tokens.record(r.input_tokens, {**attrs, "gen_ai.token.type": "input"})
            self.tokens.record(r.output_tokens, {**attrs, "gen_ai.token.type": "output"})
        span.set_attributes({
            "gen_ai.response.model": response_model or r.model,
            "gen_ai.usage.input_tokens": r.input_tokens,
            "gen_ai.usage.output_tokens": r.output_tokens,
            **({"gen_ai.response.id": r.request_id} if r.request_id else {}),
            **({"plugbay.cost": r.cost} if r.cost is not None else {}),
            **({"plugbay.cache": r.cache} if r.cache else {}),
            **({f"plugbay.tag.{k}": v for k, v in (r.tags or {}).items()}),
        })
        if r.error:
            span.set_attribute("error.type", r.error)
        if r.status == "error":
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, r.error))
        span.end()


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
    client.http.injectors.append(inst.inject)
    return inst
