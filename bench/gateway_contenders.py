"""The servers `bench/gateway_bench.py` compares, and how to watch a server process.

Each server is built the same way: a config file in a fresh directory pointing at the
one upstream, the same worker count, its health URL for "ready", the model name the load
client uses, and the venv it runs from (`bench/setup_venvs.sh gateway litellm-proxy`).

- plugbay gateway: `plugbay serve --config plugbay.toml --workers N` (`plugbay[gateway]`),
  ledger off, the master key from `PLUGBAY_MASTER_KEY`; ready is `GET /health`.
- LiteLLM proxy: `litellm --config litellm.yaml --num_workers N` (`litellm[proxy]`), no
  database, the same master key, its price map read locally (no download at start);
  ready is `GET /health/liveliness`.

Neither does spend accounting here (the proxy has no database, the gateway no ledger), so
both do the same work per call: check the key, route by model name, call the upstream.
A third, `plugbay gateway + ledger`, is the gateway with its SQLite ledger on (a row per
call, the virtual-keys layer in the pipeline): what spend accounting adds.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
# One key for everything: the gateway's master key, the proxy's master key, the upstream key.
KEY = "sk-bench-0123456789abcdef0123456789abcdef"
GATEWAY, PROXY = "plugbay gateway", "LiteLLM proxy"
GATEWAY_LEDGER = "plugbay gateway + ledger"  # shown, not judged: what spend accounting adds
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Server:
    """How to start one server under test on ``port`` against ``upstream``."""

    name: str
    venv: str
    cmd: list[str]
    env: dict[str, str]
    ready_url: str
    model: str  # the load client's model name: "openai/" + the name the server routes


def gateway(upstream: str, port: int, work: Path, workers: int, *,
            ledger: bool = False) -> Server:
    config = work / "plugbay.toml"
    # The ledger on: every call a row in SQLite, and the virtual-keys layer in the pipeline.
    ledger_toml = f'path = "{work / "ledger.db"}"' if ledger else "enabled = false"
    config.write_text(f"""[plugins]
enable = ["openai"]

[providers.openai]
base_url = "{upstream}/v1"
api_key = "{KEY}"

[ledger]
{ledger_toml}
""")
    plugbay = str(VENVS / "gateway" / "bin" / "plugbay")
    cmd = [plugbay, "serve", "--config", str(config), "--workers", str(workers),
           "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "PLUGBAY_MASTER_KEY": KEY}
    # The load client names its provider, then the model the gateway routes: openai/...
    return Server(GATEWAY_LEDGER if ledger else GATEWAY, "gateway", cmd, env,
                  f"http://127.0.0.1:{port}/health", "openai/openai/gpt-4o-mini")


def gateway_ledger(upstream: str, port: int, work: Path, workers: int) -> Server:
    return gateway(upstream, port, work, workers, ledger=True)


def litellm_proxy(upstream: str, port: int, work: Path, workers: int) -> Server:
    config = work / "litellm.yaml"
    config.write_text(f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {upstream}/v1
      api_key: {KEY}
general_settings:
  master_key: {KEY}
litellm_settings:
  telemetry: false
""")
    litellm = str(VENVS / "litellm-proxy" / "bin" / "litellm")
    cmd = [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
           "--num_workers", str(workers)]
    # No network here: the price map is read from the wheel instead of fetched (a fetch
    # would retry for seconds and inflate the start time), and no telemetry is sent.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    env.pop("DATABASE_URL", None)
    return Server(PROXY, "litellm-proxy", cmd, env,
                  f"http://127.0.0.1:{port}/health/liveliness", "openai/gpt-4o-mini")


SERVERS = {GATEWAY: gateway, PROXY: litellm_proxy, GATEWAY_LEDGER: gateway_ledger}


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, ``pid`` first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICK


def workers_of(pid: int) -> list[int]:
    """The serving processes: the spawned workers (not multiprocessing's helpers), else
    the process itself when it serves alone."""
    found = []
    for p in tree(pid)[1:]:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmd and b"semaphore_tracker" not in cmd:
            found.append(p)
    return found or [pid]


def wait_ready(url: str, proc: subprocess.Popen[bytes], started: float,
               limit: float = 120.0) -> float:
    """Seconds from ``started`` (``perf_counter`` at spawn) until ``url`` answers 200."""
    while time.perf_counter() - started < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"not ready within {limit:g} s")
