"""``client.stats()`` per provider instance, and OpenTelemetry spans/metrics following the
GenAI conventions (with the SDK's in-memory exporters)."""

from __future__ import annotations

import pytest

from plugbay import errors
from plugbay.testing.server import FakeServer, Reply

from .conftest import chat, make, ok, sse_ok

pytestmark = pytest.mark.timeout(30)


def test_stats_per_provider_instance(srv: FakeServer) -> None:
    srv.add("POST", chat("a"), ok(usage={"input": 100, "output": 10}, delay=0.01))
    srv.add("POST", chat("b"), Reply.json({"error": {"message": "x"}}, status=500),
            Reply.json({"error": {"message": "x"}}, status=401), sse_ok(["s"]))
    with make(srv, None, providers=("a", "b")) as client:
        for _ in range(20):
            client.complete("a/gpt-4o-mini", "hi")
        for exc in (errors.ProviderError, errors.AuthenticationError):
            with pytest.raises(exc):
                client.complete("b/gpt-4o-mini", "hi")
        client.stream("b/gpt-4o-mini", "hi").get_completion()
        stats = client.stats()
    a, b = stats["a"], stats["b"]
    assert a.requests == 20 and a.errors == {} and a.input_tokens == 2000
    assert a.output_tokens == 200 and a.cost > 0
    assert a.latency_p50 is not None and a.latency_p95 is not None
    assert 0.01 <= a.latency_p50 <= a.latency_p95
    assert b.requests == 3 and b.errors == {"ProviderError": 1, "AuthenticationError": 1}
    assert b.ttft_p50 is not None
    assert set(a.to_dict()) >= {"requests", "errors", "cost", "latency_p50", "latency_p95"}


def test_otel_spans_and_metrics(srv: FakeServer) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="pip install 'plugbay[otel]'")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from plugbay.otel import instrument

    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    srv.add("POST", chat(), ok(usage={"input": 30, "output": 7}),
            Reply.json({"error": {"message": "x"}}, status=500))
    with make(srv, None) as client:
        instrument(client, tracer_provider=tp, meter_provider=mp)
        client.complete("openai/gpt-4o-mini", "hi", tags={"agent": "a1"})
        with pytest.raises(errors.ProviderError):
            client.complete("openai/gpt-4o-mini", "hi")
    ok_span, err_span = spans.get_finished_spans()
    assert ok_span.name == "chat gpt-4o-mini"
    attrs = dict(ok_span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.system"] == "openai" and attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == 30
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["plugbay.tag.agent"] == "a1"
    assert ok_span.end_time > ok_span.start_time  # type: ignore[operator]
    assert dict(err_span.attributes or {})["error.type"] == "ProviderError"
    assert err_span.status.status_code.name == "ERROR"
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics}
    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in usage.data.data_points}
    assert by_type == {"input": 30, "output": 7}
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    assert sum(p.count for p in duration.data.data_points) == 2
    errs = [p for p in duration.data.data_points if "error.type" in p.attributes]
    assert len(errs) == 1


@pytest.mark.parametrize("streamed", [False, True])
def test_otel_span_is_live_during_the_call(srv: FakeServer, streamed: bool) -> None:
    """The span starts before the request and is current while it is sent: the upstream
    sees its traceparent. The provider attribute is the plugin, not the instance, and the
    response model is the one the provider answered with."""
    pytest.importorskip("opentelemetry.sdk", reason="pip install 'plugbay[otel]'")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from plugbay.otel import instrument

    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    answered = "gpt-4o-mini-2024-07-18"
    reply = (sse_ok(["hel", "lo"], model=answered) if streamed
             else ok(model=answered, delay=0.05))
    srv.add("POST", chat("eu"), reply)
    with make(srv, None, providers=("eu",)) as client:
        instrument(client, tracer_provider=tp)
        if streamed:
            with client.stream("eu/gpt-4o-mini", "hi") as stream:
                assert "".join(e.text for e in stream if e.type == "text") == "hello"
        else:
            client.complete("eu/gpt-4o-mini", "hi")
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["plugbay.provider"] == "eu"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    if not streamed:  # OpenAI-style streams do not say which model answered
        assert attrs["gen_ai.response.model"] == answered
    ctx = span.get_span_context()
    sent = srv.last.headers.get("traceparent") or ""
    assert sent.startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
    if not streamed:  # started before the upstream's 50 ms answer, not back-dated after
        assert (span.end_time - span.start_time) / 1e9 >= 0.05  # type: ignore[operator]
