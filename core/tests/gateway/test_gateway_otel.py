"""OpenTelemetry through the gateway: `opentelemetry-instrument plugbay serve` with
``[otel] enabled = true`` exports, from its spawned workers, a SERVER span per request
that continues the caller's ``traceparent``, with plugbay's ``chat <model>`` client span
as its child and the upstream request in the same trace. Spans go to a real OTLP/HTTP
receiver on 127.0.0.1, decoded with opentelemetry-proto; the call is the openai SDK's.
"""

from __future__ import annotations

import gzip
import http.server
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.instrumentation.asgi")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from _gateway_support import (  # noqa: E402
    MASTER,
    UPSTREAM_KEY,
    GatewayProcess,
    openai_client,
    write_config,
)

from plugbay.testing.server import FakeServer  # noqa: E402

PROMPT = "a prompt that must stay out of every span 7c41e9"
SERVER, CLIENT = 2, 3  # opentelemetry.proto.trace.v1.Span.SpanKind


@dataclass
class Span:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent: str
    attrs: dict[str, Any]


class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces, protobuf (gzip or not)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.raw: list[bytes] = []  # every decoded export, to look for secrets in
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    receiver.add(body)
                answer = trace_service.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, body: bytes) -> None:
        request = trace_service.ExportTraceServiceRequest.FromString(body)
        spans = [Span(s.name, s.kind, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(),
                      {a.key: _value(a.value) for a in s.attributes})
                 for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
        with self.lock:
            self.raw.append(body)
            self.spans.extend(spans)

    def wait(self, found: Callable[[list[Span]], bool], timeout: float = 20.0) -> list[Span]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                spans = list(self.spans)
            if found(spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(f"spans not exported in {timeout} s: {self.spans}")


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _instrumented(config: Path, receiver: Receiver, delay_ms: int = 50) -> GatewayProcess:
    """`opentelemetry-instrument -- plugbay serve` with two workers, exporting to
    ``receiver`` (the `--` keeps its option parser off `--config`)."""
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    if not launcher.exists():
        pytest.skip("opentelemetry-instrument (opentelemetry-distro) is not installed")
    env = {"OTEL_SERVICE_NAME": "plugbay-gateway-test", "OTEL_TRACES_EXPORTER": "otlp",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
           "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
           "OTEL_BSP_SCHEDULE_DELAY": str(delay_ms),  # 50: exports soon after a span ends
           # captured, the key must still be redacted (plugbay.gateway.tracing.SANITIZED)
           "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST":
               "authorization,x-api-key,traceparent"}
    return GatewayProcess(config, workers=2, env=env, launcher=[str(launcher), "--"])


def _call(gw: GatewayProcess, trace_id: str, parent: str, stream: bool = False) -> None:
    client = openai_client(gw)
    answer = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"traceparent": f"00-{trace_id}-{parent}-01"}, stream=stream)
    text = ("".join(c.choices[0].delta.content or "" for c in answer if c.choices)
            if stream else answer.choices[0].message.content)
    assert text == "Hello from upstream"


def _pair(spans: list[Span], trace_id: str) -> tuple[Span, Span]:
    """The trace's one SERVER span and one CLIENT span."""
    [server] = [s for s in spans if s.kind == SERVER and s.trace_id == trace_id]
    [chat] = [s for s in spans if s.kind == CLIENT and s.trace_id == trace_id]
    return server, chat


def _both(trace_id: str) -> Callable[[list[Span]], bool]:
    return lambda got: {SERVER, CLIENT} <= {s.kind for s in got if s.trace_id == trace_id}


def test_a_call_is_a_server_span_with_the_client_span_under_it(
        upstream: FakeServer, receiver: Receiver, tmp_path: Path) -> None:
    config = write_config(tmp_path / "plugbay.toml", upstream.url,
                          f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n'
                          "[otel]\nenabled = true\n")
    gw = _instrumented(config, receiver)
    try:
        trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        _call(gw, trace_id, parent)
        spans = receiver.wait(_both(trace_id))

        server, chat = _pair(spans, trace_id)
        assert server.name == "POST /v1/chat/completions"
        assert server.parent == parent  # continues the caller's trace
        status = server.attrs.get("http.response.status_code",
                                  server.attrs.get("http.status_code"))
        assert status == 200
        assert chat.name == "chat gpt-4o-mini"
        assert chat.parent == server.span_id
        assert chat.attrs["gen_ai.operation.name"] == "chat"
        assert chat.attrs["gen_ai.request.model"] == "gpt-4o-mini"
        assert chat.attrs["gen_ai.provider.name"] == "openai"
        assert (chat.attrs["gen_ai.usage.input_tokens"],
                chat.attrs["gen_ai.usage.output_tokens"]) == (11, 7)

        # the upstream request carries the client span's context
        [sent] = [r for r in upstream.requests if PROMPT.encode() in r.body]
        assert sent.headers.get("traceparent") == f"00-{trace_id}-{chat.span_id}-01"

        # a stream's chat span is the request's child too
        streamed = secrets.token_hex(16)
        _call(gw, streamed, secrets.token_hex(8), stream=True)
        spans = receiver.wait(_both(streamed))
        server, chat = _pair(spans, streamed)
        assert chat.parent == server.span_id and chat.name == "chat gpt-4o-mini"

        # the wait gave /health (polled at start-up) time to export: it is excluded
        assert not [s for s in spans if "/health" in s.name]
        exported = b"".join(receiver.raw)
        for secret in (MASTER, UPSTREAM_KEY, PROMPT):
            assert secret.encode() not in exported
    finally:
        assert gw.stop() == 0


@pytest.mark.parametrize("otel", [True, False], ids=["otel-control", "no-otel"])
def test_without_otel_the_gateway_exports_nothing(
        upstream: FakeServer, receiver: Receiver, tmp_path: Path, otel: bool) -> None:
    """An SDK is set up either way; spans leave only when a worker stops (the batch delay
    is a minute), so after a stop what was made is out: with [otel], the pair (the
    control), without it nothing."""
    config = write_config(tmp_path / "plugbay.toml", upstream.url,
                          f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n'
                          + ("[otel]\nenabled = true\n" if otel else ""))
    gw = _instrumented(config, receiver, delay_ms=60_000)
    trace_id = secrets.token_hex(16)
    try:
        _call(gw, trace_id, secrets.token_hex(8))
        assert receiver.spans == []  # nothing before the stop: the delay holds
    finally:
        assert gw.stop() == 0
    kinds = sorted(s.kind for s in receiver.spans if s.trace_id == trace_id)
    assert kinds == ([SERVER, CLIENT] if otel else [])
    if not otel:
        assert receiver.spans == []


def _run(code: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLUGBAY_MASTER_KEY": MASTER, "PLUGBAY_GATEWAY_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_without_otel_a_worker_imports_no_opentelemetry(tmp_path: Path) -> None:
    config = write_config(tmp_path / "plugbay.toml", "http://127.0.0.1:9",
                          f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n')
    code = ("import sys\nfrom plugbay.gateway.app import create_app\n"
            "print(type(create_app()).__name__, "
            "len([m for m in sys.modules if m.startswith('opentelemetry')]))")
    out = _run(code, config)
    assert out.stdout.strip() == "Gateway 0", out.stderr
    # the control: with [otel] the same worker is wrapped in the middleware
    config.write_text(config.read_text() + "[otel]\nenabled = true\n")
    out = _run(code, config)
    name, count = out.stdout.split()
    assert (name, int(count) > 0) == ("OpenTelemetryMiddleware", True), out.stderr


def test_a_missing_package_is_one_line_naming_the_install(tmp_path: Path) -> None:
    config = write_config(tmp_path / "plugbay.toml", "http://127.0.0.1:9",
                          f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n'
                          "[otel]\nenabled = true\n")
    out = _run("import sys\nsys.modules['opentelemetry.instrumentation.asgi'] = None\n"
               "from plugbay.cli import main\n"
               f"sys.exit(main(['serve', '--config', {str(config)!r}, '--port', '0']))",
               config)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "pip install 'plugbay[otel,gateway]'" in lines[0]
