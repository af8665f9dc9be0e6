"""Run every bench client against one upstream and save the raw results.

The upstream runs pinned to CPU 0, every client in a fresh interpreter of its own venv pinned
to CPU 1. First the startup figures: per import run, every client's import and cold start,
and plugbay's two import forms (``import plugbay``, ``from plugbay import Client``). Then the
load rounds: round i runs every client once, in an order rotated by i, each process doing
its sequential, streaming and 64-concurrent phases for ``Plan.load_s`` seconds in all; then
plugbay's in-process measures (pipeline overhead, cache hits, sync stream). Every figure is
kept per round; ``report.py`` takes medians and ranges. Writes ``bench/results/latest.json``
(and a timestamped copy). ``bench/run`` calls this.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from plan import CLIENTS, Client, Plan, parse_args
from sysinfo import loadavg, machine

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
RESULTS = HERE / "results"
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
# The upstream on one CPU, clients on another; on a single CPU both share it (noted).
SERVER_CPU, CLIENT_CPU = _CPUS[0], _CPUS[1 if len(_CPUS) > 1 else 0]
MICRO = "plugbay (in-process)"  # the client name of the micro measures' records
FORMS = "plugbay (import forms)"
T = TypeVar("T")


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


def rotated(items: list[T], i: int) -> list[T]:
    """``items`` starting at position ``i``: each item leads one round in turn."""
    k = i % len(items) if items else 0
    return items[k:] + items[:k]


def spawn(st: State, label: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run one measuring process; its last JSON line, or ``{"error": why}``."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=client_env(),
                           timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log(f"{label}: timed out after {timeout:.0f} s")
        return {"error": "timeout"}
    result = _last_json(p.stdout)
    if p.returncode != 0 or result is None:
        tail = " | ".join((p.stderr or p.stdout).strip().splitlines()[-3:])
        log(f"{label}: failed (exit {p.returncode}): {tail}")
        return {"error": tail or f"exit {p.returncode}"}
    result["process_wall_s"] = time.perf_counter() - t0
    return result


def run_client(st: State, c: Client, mode: str, extra: list[str],
               rnd: int | None = None) -> dict[str, Any] | None:
    cmd = [str(python_of(c.venv)), str(HERE / "clients" / c.script), "--mode", mode,
           "--url", st.url, "--cpu", str(CLIENT_CPU), *c.args, *extra]
    result = spawn(st, f"{c.name} {mode}", cmd, st.plan.timeout_s)
    ok = "error" not in result
    if mode == "load" and ok:  # one record per phase, as if each had its own process
        for phase in ("seq", "stream", "conc"):
            st.runs.append({**result[phase], "client": c.name, "mode": phase, "round": rnd,
                            "load_process_wall_s": result["process_wall_s"]})
        return result
    st.runs.append({**result, "client": c.name, "mode": mode, "round": rnd})
    return result if ok else None


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
    import urllib.request

    with urllib.request.urlopen(url + "/bench/stats", timeout=5) as r:
        stats: dict[str, float] = json.loads(r.read())
        return stats


def start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    RESULTS.mkdir(exist_ok=True)
    port_file = RESULTS / ".upstream-port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "upstream.py"), "--port", "0", "--cpu", str(SERVER_CPU),
         "--port-file", str(port_file)],
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
            [sys.executable, str(HERE / "ceiling.py"), "--url", st.url, "--cpu",
             str(CLIENT_CPU), "--seconds", str(p.ceiling_s), "--chunks", str(p.chunks)],
            capture_output=True, text=True, check=True, timeout=60,
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


def run_forms(st: State, i: int) -> None:
    """``import plugbay`` and ``from plugbay import Client``, alternating, fresh processes."""
    script = str(HERE / "clients" / "plugbay_import.py")
    for j in range(st.plan.form_pairs):
        for form in rotated(["module", "client"], i + j):
            cmd = [str(python_of("plugbay")), script, "--form", form, "--cpu", str(CLIENT_CPU)]
            r = spawn(st, f"import form {form}", cmd, 60)
            st.runs.append({**r, "client": FORMS, "mode": "import_form", "form": form,
                            "round": i})


def run_micro(st: State, i: int) -> None:
    """plugbay's in-process measures, one process per round."""
    p = st.plan
    cmd = [str(python_of("plugbay")), str(HERE / "clients" / "plugbay_micro.py"),
           "--seconds", str(p.micro_s), "--chunks", str(p.micro_chunks),
           "--cpu", str(CLIENT_CPU)]
    r = spawn(st, "plugbay in-process measures", cmd, p.timeout_s)
    st.runs.append({**r, "client": MICRO, "mode": "micro", "round": i})
    for name, part in r.items():
        if isinstance(part, dict) and ("skipped" in part or "error" in part):
            log(f"in-process {name}: {part.get('skipped') or part.get('error')}")


def run_all(st: State, clients: list[Client]) -> dict[str, Any]:
    p = st.plan
    ceiling = measure_ceiling(st)
    plugbay_ok = any(c.venv == "plugbay" for c in clients)
    for i in range(p.import_runs):
        log(f"import + cold start, run {i + 1}/{p.import_runs}")
        for c in rotated(clients, i):
            run_client(st, c, "import", [], i)
        for c in rotated(clients, i):
            run_client(st, c, "cold", [], i)
        if plugbay_ok:
            run_forms(st, i)
    load = ["--seq-s", str(p.phase_s("seq")), "--stream-s", str(p.phase_s("stream")),
            "--conc-s", str(p.phase_s("conc")), "--warmup", str(p.seq_warmup),
            "--chunks", str(p.chunks), "--conc", str(p.conc),
            "--conc-warmup", str(p.conc_warmup)]
    longest = 0.0
    begun = float(os.environ.get("BENCH_RUN_START", st.started))
    for i in range(p.rounds):
        if i >= p.min_rounds and time.time() - begun + longest > p.budget_s:
            log(f"time budget ({p.budget_s:.0f} s): stopping after {i} load rounds of "
                f"{p.rounds}")
            break
        order = rotated(clients, i)
        log(f"load round {i + 1}/{p.rounds}: {', '.join(c.name for c in order)}")
        t0 = time.time()
        for c in order:
            run_client(st, c, "load", load, i)
        if plugbay_ok:
            run_micro(st, i)
        longest = max(longest, time.time() - t0)
        st.rounds_done = i + 1
        if i + 1 < p.rounds:
            left = (time.time() - t0) * (p.rounds - i - 1)
            log(f"round {i + 1} took {time.time() - t0:.0f} s; at this pace the rounds end "
                f"in about {left / 60:.1f} min ({(time.time() - begun + left) / 60:.1f} min "
                "since bench/run began)")
    return ceiling


def main() -> None:
    plan, only = parse_args()
    st = State(plan=plan)
    load_start = loadavg()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {SERVER_CPU})  # the runner mostly sleeps: keep the client CPU free
    try:  # inherited by the upstream and every client: less noise from other work
        os.nice(-10)
    except OSError:
        pass
    wanted = [c for c in CLIENTS if not only or c.name in only]
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
        "clients": {c.name: {"kind": c.kind, "floor": c.floor, "version": st.versions[c.name]}
                    for c in clients},
        "runs": st.runs,
    }
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(doc, indent=1)
    (RESULTS / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    log(f"results in {RESULTS / 'latest.json'} ({doc['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
