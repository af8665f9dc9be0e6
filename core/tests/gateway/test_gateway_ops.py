"""Operations: health, readiness, metrics and request ids; SIGTERM drains a stream in
flight; SIGHUP reloads the config without dropping a call; a client that goes away
cancels its upstream call; a bad config is one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _gateway_support import (
    MASTER,
    GatewayProcess,
    cli,
    free_port,
    openai_client,
)

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.timeout(90)

HI = [{"role": "user", "content": "hi"}]


def get(client: Any, gw: GatewayProcess, path: str) -> httpx.Response:
    """A GET of an ops URL through the SDK's own HTTP client (an absolute URL)."""
    response: httpx.Response = client.get(gw.url + path, cast_to=httpx.Response)
    return response


def test_health_ready_metrics_and_request_id(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        assert get(client, gateway, "/health").json() == {"status": "ok"}
        ready = get(client, gateway, "/ready").json()
        assert ready == {"status": "ok", "checks": {"ledger": "ok"}}
        raw = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI,
            extra_headers={"x-request-id": "trace-42"})
        assert raw.headers["x-request-id"] == "trace-42"
        assert raw.parse().id == "chatcmpl-trace-42"
        metrics = get(client, gateway, "/metrics").text
    line = next(m for m in metrics.splitlines() if m.startswith(
        'plugbay_gateway_requests_total{path="/v1/chat/completions",status="200"}'))
    assert float(line.split()[-1]) >= 1
    lines = [json.loads(ln) for ln in gateway.logs().splitlines() if ln.startswith("{")]
    access = [ln for ln in lines if ln["rid"] == "trace-42"]
    assert access == [{"rid": "trace-42", "method": "POST", "path": "/v1/chat/completions",
                       "status": 200, "ms": access[0]["ms"]}]  # and no prompt


class StreamReader(threading.Thread):
    """Reads a streamed answer in the background: its text in ``got``, ``first`` set at
    the first chunk, a failure (a cut connection, in whatever class) in ``failed``."""

    def __init__(self, gw: GatewayProcess, model: str) -> None:
        super().__init__(daemon=True)
        self.gw, self.model = gw, model
        self.got: list[str] = []
        self.failed: list[BaseException] = []
        self.first = threading.Event()
        self.start()
        assert self.first.wait(20)

    def run(self) -> None:
        try:
            with openai_client(self.gw, timeout=60) as client:
                for chunk in client.chat.completions.create(model=self.model, messages=HI,
                                                            stream=True):
                    if chunk.choices and chunk.choices[0].delta.content:
                        self.got.append(chunk.choices[0].delta.content)
                        self.first.set()
        except Exception as exc:
            self.failed.append(exc)

    @property
    def text(self) -> str:
        return "".join(self.got)


def test_sigterm_drains_a_stream_in_flight(own_gateway: Any) -> None:
    gw = own_gateway("[gateway]\ngrace = 20\n")
    reader = StreamReader(gw, "openai/slow")
    gw.signal(signal.SIGTERM)  # the upstream stalls 2 s before the rest
    reader.join(30)
    assert reader.text == "Hello from upstream"  # the whole answer, not cut at SIGTERM
    assert gw.proc.wait(30) == 0


def test_sigterm_after_grace_ends_a_stalled_stream(own_gateway: Any) -> None:
    """With ``grace = 1`` and a stream stalled for 15 s, SIGTERM ends the process within
    the grace and a few seconds; the caller gets an error or a cut stream, not a hang."""
    gw = own_gateway("[gateway]\ngrace = 1\n")
    reader = StreamReader(gw, "openai/stall")
    sent = time.monotonic()
    gw.signal(signal.SIGTERM)
    gw.proc.wait(10)
    exited = time.monotonic() - sent
    reader.join(10)
    assert exited < 1 + 5, exited
    assert not reader.is_alive()  # the caller is not left hanging
    assert reader.failed or reader.text != "Hello from upstream"


def test_sighup_keeps_a_stream_in_flight_whole(own_gateway: Any) -> None:
    gw = own_gateway(workers=2)
    reader = StreamReader(gw, "openai/slow")
    gw.signal(signal.SIGHUP)  # the upstream stalls 2 s before the rest
    reader.join(30)
    assert reader.text == "Hello from upstream" and not reader.failed
    assert gw.proc.poll() is None


def _in_flight(gw: Any, model: str, answers: list[str]) -> threading.Thread:
    """A started thread making one call to ``model``; its answer goes to ``answers``."""
    def call() -> None:
        with openai_client(gw) as client:
            answers.append(client.chat.completions.create(
                model=model, messages=HI).choices[0].message.content)

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_admin_reload_keeps_a_call_in_flight(own_gateway: Any) -> None:
    gw = own_gateway(workers=2)
    answers: list[str] = []
    call = _in_flight(gw, "openai/stall", answers)
    time.sleep(0.5)  # the call is in flight, waiting 8 s on the upstream: past the reload
    with openai_client(gw) as client:
        answer = client.post(gw.url + "/admin/reload", cast_to=httpx.Response, body={})
    assert answer.status_code == 202
    call.join(30)
    assert answers == ["Hello from upstream"]


def test_sighup_reloads_without_dropping_a_call(own_gateway: Any) -> None:
    gw = own_gateway(workers=2)
    answers: list[str] = []
    calls = [_in_flight(gw, "openai/slow", answers) for _ in range(4)]
    time.sleep(0.5)  # the calls are in flight, waiting on the upstream
    text = gw.config.read_text() + '\n[routes.fresh]\ntargets = ["openai/gpt-4o"]\n'
    gw.config.write_text(text)
    gw.signal(signal.SIGHUP)
    for t in calls:
        t.join(30)
    assert answers == ["Hello from upstream"] * 4
    with openai_client(gw) as client:
        for _ in range(100):  # the new workers serve the new config
            try:
                if client.chat.completions.create(model="fresh", messages=HI).choices:
                    break
            except openai.NotFoundError:
                time.sleep(0.1)
        else:
            pytest.fail("the reloaded config was not served")


def test_a_client_that_goes_away_cancels_the_upstream_call(own_gateway: Any,
                                                          tmp_path: Path) -> None:
    gw = own_gateway(f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n')
    with openai_client(gw, timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="openai/slow", messages=HI)
    with openai_client(gw, timeout=0.5) as client:
        stream = client.chat.completions.create(model="openai/slow", messages=HI, stream=True)
        next(iter(stream))
        stream.close()  # gone after the first chunk, while the upstream stalls
    statuses: dict[str, int] = {}
    for _ in range(100):
        statuses = {r["key"]: r["calls"] for r in cli(gw.config, "usage", "--by", "status")}
        if statuses.get("cancelled") == 2:
            break
        time.sleep(0.05)
    # Both upstream calls were cancelled (not answered 2 s later) and metered as such.
    assert statuses == {"cancelled": 2}


@pytest.mark.parametrize(("body", "env", "named", "fix"), [
    ("[gateway]\nprot = 1\n", {}, "gateway.prot", "did you mean 'port'"),
    ("[gateway]\nworkers = 0\n", {}, "gateway.workers", "e.g. workers = 1"),
    ("[gateway]\nport = 70000\n", {}, "gateway.port", "e.g. port = 4000"),
    ("[gateway]\nport = \"4000\"\n", {}, "gateway.port", "e.g. port = 4000"),
    ("[gateway]\ngrace = -1\n", {}, "gateway.grace", "e.g. grace = 30"),
    ('[ledger]\npath = "off"\n', {}, "ledger", "set [ledger] path or url"),
    ("", {"PLUGBAY_MASTER_KEY": ""}, "PLUGBAY_MASTER_KEY", "openssl rand -hex 32"),
    ("", {"PLUGBAY_MASTER_KEY": "short"}, "PLUGBAY_MASTER_KEY", "openssl rand -hex 32"),
])
def test_bad_config_is_one_line_and_a_failure(tmp_path: Path, body: str, env: dict[str, str],
                                              named: str, fix: str) -> None:
    """One line on stderr naming the config file, the key and a fix; a non-zero exit."""
    config = tmp_path / "plugbay.toml"
    config.write_text(body)
    full = {**os.environ, "PLUGBAY_MASTER_KEY": MASTER, **env}
    out = subprocess.run([sys.executable, "-m", "plugbay.cli", "serve", "--config",
                          str(config), "--port", str(free_port())], capture_output=True,
                         text=True, env=full, timeout=60, check=False)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert str(config) in lines[0] and named in lines[0] and fix in lines[0], lines[0]


def test_admin_reload_checks_the_config_first(own_gateway: Any) -> None:
    gw = own_gateway()
    good = gw.config.read_text()
    with openai_client(gw) as client:
        gw.config.write_text(good + "\n[gateway]\nportt = 1\n")
        with pytest.raises(openai.BadRequestError) as caught:
            client.post(gw.url + "/admin/reload", cast_to=httpx.Response, body={})
        assert "gateway.portt" in caught.value.message
        assert client.chat.completions.create(model="smart", messages=HI).choices  # still up
        gw.config.write_text(good + '\n[routes.later]\ntargets = ["openai/gpt-4o"]\n')
        answer = client.post(gw.url + "/admin/reload", cast_to=httpx.Response, body={})
        assert answer.status_code == 202
        for _ in range(100):
            try:
                if client.chat.completions.create(model="later", messages=HI).choices:
                    break
            except openai.NotFoundError:
                time.sleep(0.1)
        else:
            pytest.fail("the reloaded config was not served")
