"""The plugbay gateway side by side with the LiteLLM proxy: one upstream, the same worker
count, the same load client (`gateway_load.py`), in interleaved rounds.

Round i measures a direct plugbay call to the upstream (sequential p50, the baseline of
"added latency"), then each server, in the server list rotated by i: spawn it, time start
to ready (spawn until its health URL answers 200), run the load client's three phases
(sequential, 64 concurrent requests, 16 concurrent streams), each in a fresh client
process, reading the server's CPU time around each phase, then read each worker's RSS
after the load and stop the server. The upstream and the load client share CPU 0, the
server (all its workers) gets CPU 1 (`--no-pin`: no pinning); all run at nice -10 where
permitted, as in `runner.py`.

Results go to `bench/results/gateway.json` (`--quick`: `gateway-quick.json`) and the chart
to `bench/results/gateway.png`;
with `--docs` the chart also goes to `docs/gateway.png` and the section between the
markers in `docs/gateway.md` and `docs/performance.md` is rewritten (`report.py` renders
the same section into the page on every `bench/run`).

    bench/.venvs/tools/bin/python bench/gateway_bench.py --rounds 1 --seconds 2   # a check
    bench/.venvs/tools/bin/python bench/gateway_bench.py --docs

Venvs (`bench/setup_venvs.sh plugbay gateway litellm-proxy`): the load client runs from
`plugbay`, the gateway from `gateway`, the proxy from `litellm-proxy`. A server whose venv
is missing or that cannot start is reported as not available, with why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gateway_report
from gateway_contenders import (
    KEY,
    SERVERS,
    VENVS,
    Server,
    cpu_s,
    rss_mb,
    tree,
    wait_ready,
    workers_of,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LOAD_PYTHON = VENVS / "plugbay" / "bin" / "python"
UPSTREAM_CPU, SERVER_CPU = "0", "1"
PHASES = ("seq", "conc", "stream")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def upstream(pin: bool) -> Iterator[str]:
    port_file = Path(tempfile.mkdtemp(prefix="plugbay-gwb-")) / "port"
    cmd = [sys.executable, str(HERE / "upstream.py"), "--port", "0", "--port-file",
           str(port_file)]
    if pin:
        cmd += ["--cpu", UPSTREAM_CPU]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        for _ in range(2000):
            if port_file.exists() and port_file.read_text().strip():
                break
            if proc.poll() is not None:
                raise RuntimeError("the upstream exited at start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{int(port_file.read_text())}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(port_file.parent, ignore_errors=True)


def load(url: str, model: str, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [str(LOAD_PYTHON), str(HERE / "gateway_load.py"), "--url", url, "--model", model,
           "--key", KEY, "--phase", phase, "--seconds", str(args.seconds)]
    if args.pin:
        cmd += ["--cpu", UPSTREAM_CPU]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + 4 * args.seconds)
    if done.returncode != 0:
        raise RuntimeError(f"load client ({phase}) failed: {done.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (uvicorn's supervisor stops its workers), SIGKILL what is left."""
    pids = tree(proc.pid)
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    for pid in pids[1:]:  # a worker that outlived its supervisor
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def measure(server: Server, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One round of one server: ready time, the three phases, RSS after load."""
    cmd = ["taskset", "-c", SERVER_CPU, *server.cmd] if args.pin else server.cmd
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=server.env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=work)
        try:
            ready = wait_ready(server.ready_url, proc, started)
            out: dict[str, Any] = {"available": True, "ready_s": ready}
            base = server.ready_url.split("/health")[0] + "/v1"
            for phase in PHASES:
                before = cpu_s(proc.pid)
                got = load(base, server.model, phase, args)
                got["server_cpu_us"] = (cpu_s(proc.pid) - before) / got["calls"] * 1e6
                out[phase] = got
            workers = workers_of(proc.pid)
            out["rss_workers_mb"] = [rss_mb(p) for p in workers]
            out["rss_tree_mb"] = sum(rss_mb(p) for p in tree(proc.pid))
            out["processes"] = len(tree(proc.pid))
            return out
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            log.flush()
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            return {"available": False, "error": f"{exc}: {' | '.join(tail)}"[:600]}
        finally:
            stop(proc)


def unavailable(server: Server) -> str | None:
    if not Path(server.cmd[0]).exists():
        why = RESULTS / f"install-{server.venv}.txt"
        detail = why.read_text().strip() if why.exists() else "not installed"
        return f"no venv bench/.venvs/{server.venv} ({detail[:300]})"
    return None


def version(venv: str, dist: str) -> str | None:
    python = VENVS / venv / "bin" / "python"
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-c", "import importlib.metadata as m, sys; "
                           "print(m.version(sys.argv[1]))", dist],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [n for n in SERVERS if not args.only or n in args.only.split(",")]
    try:  # inherited by the upstream, the servers and the load client, as in runner.py
        os.nice(-10)
    except OSError:
        pass
    doc: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "workers": args.workers, "seconds": args.seconds, "rounds": [], "pinned": args.pin,
        "quick": args.quick, "servers": names, "errors": {}, "nice": os.nice(0),
        "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "cpus": os.cpu_count(),
        "versions": {"plugbay": version("gateway", "plugbay") or version("plugbay", "plugbay"),
                     "uvicorn": version("gateway", "uvicorn"),
                     "litellm": version("litellm-proxy", "litellm")},
    }
    with upstream(args.pin) as up:
        for i in range(args.rounds):
            rnd: dict[str, Any] = {"direct": load(f"{up}/v1", "openai/gpt-4o-mini", "seq", args)}
            for name in names[i % len(names):] + names[:i % len(names)]:
                if name in doc["errors"]:
                    continue
                work = Path(tempfile.mkdtemp(prefix="plugbay-gwb-"))
                server = SERVERS[name](up, free_port(), work, args.workers)
                why = unavailable(server)
                got = {"available": False, "error": why} if why else measure(server, args, work)
                shutil.rmtree(work, ignore_errors=True)
                if not got["available"]:
                    doc["errors"][name] = got["error"]
                else:
                    rnd[name] = got
                print(f"round {i + 1}: {name}: {json.dumps(got)[:300]}", file=sys.stderr)
            doc["rounds"].append(rnd)
    doc["load_avg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return doc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per load phase")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--only", default="", help="comma-separated: plugbay gateway,LiteLLM proxy")
    p.add_argument("--no-pin", dest="pin", action="store_false",
                   help="do not pin (default: upstream and client on CPU 0, server on CPU 1)")
    p.add_argument("--quick", action="store_true", help="1 round of 2 s phases, no --docs")
    p.add_argument("--docs", action="store_true",
                   help="write the chart and the section into docs/gateway.md and "
                   "docs/performance.md")
    p.add_argument("--json", type=Path, default=None,
                   help="results file (default: bench/results/gateway.json, with --quick "
                   "gateway-quick.json, so a smoke run never reaches the recorded page)")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: render the results in --json (with --docs: the docs)")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.docs = 1, 2.0, False
    if args.json is None:
        args.json = RESULTS / ("gateway-quick.json" if args.quick else "gateway.json")
    if args.render:  # the figures of an earlier run, rendered again
        doc = json.loads(args.json.read_text())
    elif not LOAD_PYTHON.exists():
        sys.exit("gateway_bench: no bench/.venvs/plugbay for the load client: run "
                 "bench/setup_venvs.sh plugbay gateway litellm-proxy")
    else:
        doc = run(args)
        RESULTS.mkdir(exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    chart = gateway_report.chart(doc, RESULTS / "gateway.png")
    if args.docs:
        if chart:
            shutil.copyfile(chart, ROOT / "docs" / "gateway.png")
        gateway_report.update_docs(doc, ROOT / "docs")
    print(gateway_report.section(doc))


if __name__ == "__main__":
    main()
