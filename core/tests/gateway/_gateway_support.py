"""The gateway under test runs as a real `plugbay serve` process; its upstream is a fake
OpenAI server on 127.0.0.1 (plugbay.testing's), answering by what each request asks:

* ``stream: true`` -> SSE chunks, else one JSON completion;
* tools in the request -> a call of the first tool (``{"city": "Paris"}``);
* model ``err-<status>`` -> that status with OpenAI's error body (429 with Retry-After);
* model ``slow`` -> answers after 2 s (streams: one chunk, then 2 s, then the rest);
* model ``stall`` -> answers after 8 s (streams: one chunk, then 15 s, then the rest);
* model ``cut`` -> a stream cut after two chunks (a failure after output began);
* model ``reasoning`` -> ``reasoning_content`` ("Thinking.") before the text, as
  DeepSeek-style providers send it.

Clients are the official ``openai`` and ``anthropic`` SDKs only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from plugbay.testing.recorded import RecordedRequest
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

pytest.importorskip("uvicorn")
pytest.importorskip("openai")

MASTER = "test-master-key-0123456789abcdef"
UPSTREAM_KEY = "sk-upstream-DO-NOT-LEAK-4242"
WIRE = OpenAIWire()
USAGE = {"input": 11, "output": 7}


def _answer(req: RecordedRequest) -> Reply:
    body = req.json()
    model = body["model"]
    stream = bool(body.get("stream"))
    cap = body.get("max_completion_tokens") or body.get("max_tokens") or USAGE["output"]
    usage = {**USAGE, "output": min(USAGE["output"], cap)}  # as a provider honours max_tokens
    if model.startswith("err-"):
        status = int(model[4:7])
        kind = {401: "auth", 404: "not_found", 429: "rate_limit"}.get(status, "server")
        headers = {"retry-after": "3"} if status == 429 else {}
        error = WIRE.error_body(kind, status)
        if status == 401:  # as OpenAI does, the refused key is quoted back: it must not leak
            sent = req.headers.get("authorization", "")
            error["error"]["message"] = f"Incorrect API key provided: {sent[7:]}"
        return Reply.json(error, status=status, headers=headers)
    if model == "embed":
        data = [{"object": "embedding", "index": i, "embedding": [0.5 + i, -1.0, 0.25]}
                for i, _ in enumerate(body["input"])]
        return Reply.json({"object": "list", "data": data, "model": model,
                           "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        args = json.dumps({"city": "Paris"})
        if not stream:
            call = {"id": "call_1", "type": "function",
                    "function": {"name": name, "arguments": args}}
            return Reply.json(WIRE.completion(model, {"role": "assistant", "content": None,
                                                      "tool_calls": [call]},
                                              "tool_calls", usage))
        deltas = [{"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": name, "arguments": ""}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": args[:7]}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": args[7:]}}]}]
        return Reply.sse(WIRE.stream_events(model, deltas, "tool_calls", usage))
    text = "Hello from upstream"
    if model == "reasoning":
        if not stream:
            return Reply.json(WIRE.completion(model, {
                "role": "assistant", "content": text, "reasoning_content": "Thinking."},
                "stop", usage))
        deltas = [{"reasoning_content": "Think"}, {"reasoning_content": "ing."},
                  {"content": text}]
        return Reply.sse(WIRE.stream_events(model, deltas, "stop", usage))
    if not stream:
        return Reply.json(WIRE.completion(model, {"role": "assistant", "content": text},
                                          "stop", usage),
                          delay={"slow": 2.0, "stall": 8.0}.get(model, 0))
    pieces = [{"content": p} for p in ("Hello", " from", " upstream")]
    events = WIRE.stream_events(model, pieces, "stop", usage)
    if model == "slow":
        return Reply.sse(events, stall_after=2, stall=2.0)
    if model == "stall":
        return Reply.sse(events, stall_after=2, stall=15.0)
    if model == "cut":
        return Reply.sse(events, cut_after=3)
    return Reply.sse(events)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        srv.add("POST", "/v1/chat/completions", _answer)
        srv.add("POST", "/v1/embeddings", _answer)
        WIRE.script_models(srv, ["gpt-4o-mini", "gpt-4o"])
        yield srv


def service(name: str) -> str | None:
    """A service URL: the environment's, else the one .ci/services wrote, else None."""
    if os.environ.get(name):
        return os.environ[name]
    env_file = Path(__file__).resolve().parents[3] / ".ci" / "services.env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == name:
                return value.strip()
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(path: Path, upstream_url: str, extra: str = "") -> Path:
    path.write_text(f"""
[providers.openai]
base_url = "{upstream_url}/v1"
api_key = "{UPSTREAM_KEY}"

[routing]
retries = 0

[routes.smart]
targets = ["openai/gpt-4o-mini", "openai/gpt-4o"]
{extra}
""")
    return path


class GatewayProcess:
    """`plugbay serve` in a child process; stderr (access and error logs) in ``log``.
    ``launcher``: a command that runs it (``opentelemetry-instrument --``)."""

    def __init__(self, config: Path, *, workers: int = 1, env: Mapping[str, str] = (),
                 port: int | None = None, launcher: Sequence[str] = ()) -> None:
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = config.with_suffix(f".{self.port}.log")
        full = {**os.environ, "PLUGBAY_MASTER_KEY": MASTER, **dict(env)}
        full.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc = subprocess.Popen(
            [*launcher, sys.executable, "-m", "plugbay.cli", "serve", "--config", str(config),
             "--port", str(self.port), "--workers", str(workers)],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), env=full,
            start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited {self.proc.returncode}: {self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gateway not ready in {timeout} s: {self.logs()}")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture(scope="module")
def gateway(upstream: FakeServer, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[GatewayProcess]:
    home = tmp_path_factory.mktemp("gw")
    config = write_config(home / "plugbay.toml", upstream.url,
                          f'[ledger]\npath = "{home / "ledger.db"}"\n'
                          '[agents]\nhelper = "smart"\n')
    gw = GatewayProcess(config, workers=2)
    yield gw
    gw.stop()


@pytest.fixture
def own_gateway(upstream: FakeServer, tmp_path: Path) -> Iterator[Any]:
    """``start(extra, workers)``: a gateway of this test's own, ``extra`` added to its
    config; stopped after the test."""
    made: list[GatewayProcess] = []

    def start(extra: str = "", workers: int = 1) -> GatewayProcess:
        config = write_config(tmp_path / "plugbay.toml", upstream.url, extra)
        gw = GatewayProcess(config, workers=workers)
        made.append(gw)
        return gw

    yield start
    for gw in made:
        gw.stop()


def cli(config: Path, *args: str, env: Mapping[str, str] = ()) -> Any:
    """``plugbay --config CONFIG ARGS... --json``'s parsed output (keys, usage)."""
    full = {**os.environ, "PLUGBAY_MASTER_KEY": MASTER, **dict(env)}
    out = subprocess.run([sys.executable, "-m", "plugbay.cli", "--config", str(config),
                          *args, "--json"], capture_output=True, text=True, env=full,
                         timeout=60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"plugbay {' '.join(args)} failed: {out.stderr}{out.stdout}")
    return json.loads(out.stdout)


def openai_client(gw: GatewayProcess, key: str = MASTER, **kw: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, **kw)


def async_openai_client(gw: GatewayProcess, key: str = MASTER, **kw: Any) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, **kw)


def anthropic_client(gw: GatewayProcess, key: str = MASTER, **kw: Any) -> Any:
    anthropic = pytest.importorskip("anthropic")
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, **kw)


def async_anthropic_client(gw: GatewayProcess, key: str = MASTER, **kw: Any) -> Any:
    anthropic = pytest.importorskip("anthropic")
    return anthropic.AsyncAnthropic(base_url=gw.url, api_key=key, max_retries=0, **kw)
