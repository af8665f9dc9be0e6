"""Run every bench client against one upstream and save the raw and summarised results.

The upstream runs pinned to CPU 0, every client in a fresh interpreter of its own venv pinned
to CPU 1. Rounds are interleaved (A, B, C, A, B, C, ...) and figures are medians over rounds.
Writes ``bench/results/latest.json`` (and a timestamped copy). ``bench/run`` calls this.

Adding a client or a plugbay variant is one ``Client(...)`` row in ``CLIENTS``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sysinfo import loadavg, machine

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
RESULTS = HERE / "results"
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
# The upstream on one CPU, clients on another; on a single CPU both share it (noted).
SERVER_CPU, CLIENT_CPU = _CPUS[0], _CPUS[1 if len(_CPUS) > 1 else 0]


@dataclass(frozen=True)
class Client:
    name: str  # row name in the report
    venv: str  # bench/.venvs/<venv>
    script: str  # bench/clients/<script>
    args: tuple[str, ...] = ()
    floor: bool = False  # a raw HTTP client: the floor others are compared with
    kind: str = "peer"  # floor | plugbay | peer


CLIENTS: list[Client] = [
    Client("aiohttp (raw)", "aiohttp", "raw_aiohttp.py", floor=True, kind="floor"),
    Client("httpx 0.28 (raw)", "httpx", "raw_httpx.py", floor=True, kind="floor"),
    Client("httpx2 (raw)", "httpx2", "raw_httpx2.py", floor=True, kind="floor"),
    Client(
        "plugbay_direct", "plugbay", "plugbay_client.py", ("--variant", "direct"), kind="plugbay"
    ),
    Client("plugbay_route", "plugbay", "plugbay_client.py", ("--variant", "route"),
           kind="plugbay"),
    Client("plugbay_ledger", "plugbay", "plugbay_client.py", ("--variant", "ledger"),
           kind="plugbay"),
    Client("openai SDK", "openai", "openai_sdk.py"),
    Client("litellm", "litellm", "litellm_sdk.py"),
    Client("any-llm", "anyllm", "anyllm_sdk.py"),
]


@dataclass
class Plan:
    import_runs: int = 7
    rounds: int = 3
    seq_n: int = 2000
    seq_warmup: int = 100
    stream_n: int = 100
    stream_warmup: int = 10
    chunks: int = 200
    conc: int = 64
    conc_n: int = 3000
    conc_warmup: int = 256
    max_s: float = 2.5  # cap on one timed phase; slow clients measure fewer requests
    ceiling_runs: int = 3
    ceiling_s: float = 1.0
    # Start no load round that would end past this many seconds after bench/run began
    # (BENCH_RUN_START; venv setup included), so that the whole command stays < 10 min.
    budget_s: float = 520.0
    timeout_s: float = 120.0
    quick: bool = False


QUICK = Plan(
    import_runs=2,
    rounds=1,
    seq_n=300,
    seq_warmup=30,
    stream_n=20,
    stream_warmup=3,
    conc_n=500,
    conc_warmup=64,
    max_s=1.5,
    ceiling_runs=1,
    ceiling_s=0.5,
    quick=True,
)


@dataclass
class State:
    plan: Plan
    url: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    rounds_done: int = 0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def client_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        OPENAI_API_KEY="sk-bench",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # litellm otherwise tries to download its model cost map on import (no network here).
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    return env


def python_of(venv: str) -> Path:
    return VENVS / venv / "bin" / "python"


def run_client(st: State, c: Client, mode: str, extra: list[str]) -> dict[str, Any] | None:
    cmd = [
        str(python_of(c.venv)),
        str(HERE / "clients" / c.script),
        "--mode",
        mode,
        "--url",
        st.url,
        "--cpu",
        str(CLIENT_CPU),
        *c.args,
        *extra,
    ]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=client_env(),
            timeout=st.plan.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log(f"{c.name} {mode}: timed out after {st.plan.timeout_s:.0f} s")
        st.runs.append({"client": c.name, "mode": mode, "error": "timeout"})
        return None
    wall = time.perf_counter() - t0
    result = _last_json(p.stdout)
    if p.returncode != 0 or result is None:
        tail = " | ".join((p.stderr or p.stdout).strip().splitlines()[-3:])
        log(f"{c.name} {mode}: failed (exit {p.returncode}): {tail}")
        st.runs.append({"client": c.name, "mode": mode, "error": tail or f"exit {p.returncode}"})
        return None
    result.update(client=c.name, process_wall_s=wall)
    st.runs.append(result)
    return result


def _last_json(out: str) -> dict[str, Any] | None:
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "mode" in doc:
                return doc
    return None


def server_stats(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/bench/stats", timeout=5) as r:
        stats: dict[str, float] = json.loads(r.read())
        return stats


def start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    RESULTS.mkdir(exist_ok=True)
    port_file = RESULTS / ".upstream-port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "upstream.py"),
            "--port",
            "0",
            "--cpu",
            str(SERVER_CPU),
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the upstream did not start")
        time.sleep(0.02)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"


def measure_ceiling(st: State) -> dict[str, Any]:
    p = st.plan
    runs = []
    for _ in range(p.ceiling_runs):
        out = subprocess.run(
            [
                sys.executable,
                str(HERE / "ceiling.py"),
                "--url",
                st.url,
                "--cpu",
                str(CLIENT_CPU),
                "--seconds",
                str(p.ceiling_s),
                "--chunks",
                str(p.chunks),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    log(
        f"upstream ceiling: {result['raw_rps']:.0f} req/s pipelined, "
        f"{result['raw_stream_rps']:.0f} streams/s of {p.chunks} chunks"
    )
    return result


def probe(st: State, clients: list[Client]) -> list[Client]:
    ok = []
    for c in clients:
        reason = _install_failure(c.venv)
        if reason is None and not python_of(c.venv).exists():
            reason = f"venv bench/.venvs/{c.venv} missing"
        r = None if reason else run_client(st, c, "probe", [])
        if r is not None and not r.get("available"):
            reason = r.get("error", "not available")
        elif r is None and reason is None:
            reason = "probe failed: " + str(st.runs[-1].get("error", "?"))
        if reason:
            st.unavailable[c.name] = reason
            log(f"{c.name}: NOT AVAILABLE: {reason}")
        else:
            assert r is not None
            st.versions[c.name] = str(r.get("version", "?"))
            ok.append(c)
    return ok


def _install_failure(venv: str) -> str | None:
    f = RESULTS / f"install-{venv}.txt"
    return f.read_text().strip() if f.exists() else None


def run_all(st: State, clients: list[Client]) -> dict[str, Any]:
    p = st.plan
    ceiling = measure_ceiling(st)
    for i in range(p.import_runs):
        log(f"import + cold start, round {i + 1}/{p.import_runs}")
        for c in clients:
            run_client(st, c, "import", [])
        for c in clients:
            run_client(st, c, "cold", [])
    modes = {
        "seq": ["--n", str(p.seq_n), "--warmup", str(p.seq_warmup)],
        "stream": [
            "--n",
            str(p.stream_n),
            "--warmup",
            str(p.stream_warmup),
            "--chunks",
            str(p.chunks),
        ],
        "conc": ["--n", str(p.conc_n), "--warmup", str(p.conc_warmup), "--conc", str(p.conc)],
    }
    longest = 0.0
    for i in range(p.rounds):
        begun = float(os.environ.get("BENCH_RUN_START", st.started))
        if i and time.time() - begun + longest > p.budget_s:
            log(f"time budget: stopping after {i} load rounds of {p.rounds}")
            break
        log(f"load round {i + 1}/{p.rounds}")
        t0 = time.time()
        for mode, extra in modes.items():
            for c in clients:
                before = server_stats(st.url) if mode == "conc" else None
                r = run_client(st, c, mode, [*extra, "--max-s", str(p.max_s)])
                if r is not None and before is not None:
                    after = server_stats(st.url)
                    served = after["requests"] - before["requests"]
                    cpu_us = (after["cpu_s"] - before["cpu_s"]) * 1e6
                    if served > 0:
                        r["server_cpu_per_req_us"] = cpu_us / served
                        r["server_connections"] = after["connections"] - before["connections"]
        longest = max(longest, time.time() - t0)
        st.rounds_done = i + 1
    return ceiling


def summarise(st: State, clients: list[Client]) -> dict[str, dict[str, Any]]:
    """Median over rounds of every numeric figure, per client and mode."""
    out: dict[str, dict[str, Any]] = {}
    for c in clients:
        row: dict[str, Any] = {"kind": c.kind, "floor": c.floor, "version": st.versions[c.name]}
        for mode in ("import", "cold", "seq", "stream", "conc"):
            runs = [
                r
                for r in st.runs
                if r.get("client") == c.name and r.get("mode") == mode and "error" not in r
            ]
            errors = [
                r["error"]
                for r in st.runs
                if r.get("client") == c.name and r.get("mode") == mode and "error" in r
            ]
            fig: dict[str, Any] = {"runs": len(runs), "errors": errors}
            for key in sorted(
                {
                    k
                    for r in runs
                    for k, v in r.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                }
            ):
                fig[key] = statistics.median(r[key] for r in runs if key in r)
            row[mode] = fig
        out[c.name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a fast smoke run")
    ap.add_argument("--only", default="", help="comma-separated client names (default: all)")
    args = ap.parse_args()
    st = State(plan=QUICK if args.quick else Plan())
    load_start = loadavg()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {SERVER_CPU})  # the runner mostly sleeps: keep the client CPU free
    try:  # inherited by the upstream and every client: less noise from other work
        os.nice(-10)
    except OSError:
        pass
    wanted = [c for c in CLIENTS if not args.only or c.name in args.only.split(",")]
    pinning = f"upstream on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}, nice {os.nice(0)}"
    proc, st.url = start_upstream()
    try:
        log(f"upstream at {st.url} (pid {proc.pid})")
        clients = probe(st, wanted)
        ceiling = run_all(st, clients)
        stats = server_stats(st.url)
    finally:
        proc.terminate()
        proc.wait(10)
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "wall_s": time.time() - st.started,
        "plan": {**asdict(st.plan), "rounds_done": st.rounds_done},
        "machine": {**machine(python_of("aiohttp"), pinning), "loadavg_start": load_start},
        "ceiling": ceiling,
        "upstream_requests": stats["requests"],
        "unavailable": st.unavailable,
        "clients": summarise(st, clients),
        "runs": st.runs,
    }
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(doc, indent=1)
    (RESULTS / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    log(f"results in {RESULTS / 'latest.json'} ({doc['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
