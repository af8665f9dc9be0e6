"""The gateway benchmark's bookkeeping (bench/gateway_report.py and
bench/gateway_contenders.py): figures paired per round, goals judged on the median, the
section put between its markers on both doc pages, and a server's process tree and CPU
time read from /proc. No timing is asserted: the inputs are made-up rounds."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
pytestmark = pytest.mark.timeout(60)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


servers = _load("gateway_contenders")  # first: gateway_report imports it
report = _load("gateway_report")


def server(p50: float, rps: float, streams: float, cpu: float, ready: float,
           rss: list[float]) -> dict[str, Any]:
    return {"available": True, "ready_s": ready,
            "seq": {"p50_us": p50, "p99_us": 2 * p50, "server_cpu_us": cpu},
            "conc": {"per_s": rps, "server_cpu_us": cpu},
            "stream": {"per_s": streams, "server_cpu_us": 10 * cpu},
            "rss_workers_mb": rss, "rss_tree_mb": sum(rss) + 5}


def doc(rounds: list[dict[str, Any]], errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"date": "2026-12-04 06:00 UTC", "workers": 2, "seconds": 3.0, "pinned": True,
            "quick": False, "servers": [report.GATEWAY, report.PROXY], "errors": errors or {},
            "load_avg": "0.5 0.5 0.5", "load_avg_end": "0.6 0.5 0.5", "cpus": 2,
            "versions": {"plugbay": "0.1.0", "uvicorn": "0.30.0", "litellm": "1.0"},
            "rounds": rounds}


ROUNDS = [
    {"direct": {"p50_us": 300.0},
     report.GATEWAY: server(600.0, 3000.0, 600.0, 300.0, 0.5, [40.0, 42.0]),
     report.PROXY: server(12000.0, 100.0, 20.0, 9000.0, 7.0, [400.0, 410.0])},
    {"direct": {"p50_us": 500.0},
     report.GATEWAY: server(1400.0, 1000.0, 300.0, 600.0, 0.7, [45.0, 44.0]),
     report.PROXY: server(13000.0, 200.0, 30.0, 9000.0, 8.0, [400.0, 405.0])},
    {"direct": {"p50_us": 400.0},
     report.GATEWAY: server(800.0, 2500.0, 500.0, 450.0, 0.6, [50.0, 41.0]),
     report.PROXY: server(11000.0, 100.0, 20.0, 9000.0, 6.5, [390.0, 400.0])},
]


def test_added_latency_is_paired_with_the_direct_call_of_its_own_round() -> None:
    d = report.summary(doc(ROUNDS))
    # per round: 600-300, 1400-500, 800-400 -> 300, 900, 400
    assert d[report.GATEWAY]["added_p50_us"] == (400.0, 300.0, 900.0)
    assert d["direct"]["p50_us"] == (400.0, 300.0, 500.0)
    assert d[report.GATEWAY]["rss_worker_mb"] == (45.0, 42.0, 50.0)  # the largest worker


def test_ratios_are_taken_per_round_by_wall_clock_and_by_cpu() -> None:
    d = report.summary(doc(ROUNDS))
    assert d["ratio"]["rps_x"] == (25.0, 5.0, 30.0)  # 30, 5, 25
    assert d["ratio"]["rps_cpu_x"] == (20.0, 15.0, 30.0)  # 9000 over 300, 600, 450


def test_goals_are_judged_on_the_median() -> None:
    lines = report.goals(report.summary(doc(ROUNDS)))
    added, rps, streams, ready, rss = lines[2:]
    assert "0.40 [0.30, 0.90] ms | PASS" in added  # max misses, median passes
    assert "25.0 [5.0, 30.0]x | PASS" in rps and "20.0 [15.0, 30.0]x | PASS" in rps
    assert "25.0 [10.0, 30.0]x | PASS" in streams and "20.0 [15.0, 30.0]x | PASS" in streams
    assert "0.60 [0.50, 0.70] s | PASS" in ready
    assert "45.0 [42.0, 50.0] MB | PASS" in rss
    slow = [dict(r, **{report.GATEWAY: server(900.0, 1000.0, 100.0, 900.0, 1.5, [90.0])})
            for r in ROUNDS]
    judged = report.goals(report.summary(doc(slow)))[2:]
    assert all("**MISS**" in line for line in judged), judged


def test_a_server_that_could_not_start_is_named_with_why() -> None:
    rounds = [{k: v for k, v in r.items() if k != report.GATEWAY} for r in ROUNDS]
    text = report.section(doc(rounds, {report.GATEWAY: "exited with status 2: bad config"}))
    assert "**plugbay gateway: not available**: exited with status 2: bad config" in text
    rps = next(line for line in text.splitlines() if line.startswith("| requests/s at"))
    assert rps.endswith("| n/a |  | n/a |  |")  # no figure, so no verdict
    assert "| | LiteLLM proxy |" in text  # the table holds the server that ran


def test_the_section_goes_between_its_markers_and_replaces_the_last_one(tmp_path: Path,
                                                                        ) -> None:
    (tmp_path / "gateway.md").write_text("# Gateway\n\nintro\n")
    (tmp_path / "performance.md").write_text(
        "# Performance\n\n## Is the upstream the bottleneck?\n\nyes\n")
    first = doc(ROUNDS)
    report.update_docs(first, tmp_path)
    later = dict(first, date="2026-12-05 06:00 UTC")
    report.update_docs(later, tmp_path)
    gw = (tmp_path / "gateway.md").read_text()
    perf = (tmp_path / "performance.md").read_text()
    for page in (gw, perf):
        assert page.count(report.MARK_START) == 1 and page.count(report.MARK_END) == 1
        assert "2026-12-05 06:00 UTC" in page and "2026-12-04 06:00 UTC" not in page
    assert gw.startswith("# Gateway\n\nintro\n\n## Performance\n\n")
    assert perf.index(report.MARK_END) < perf.index("## Is the upstream the bottleneck?")
    assert perf.rstrip().endswith("yes")


def test_a_busy_machine_is_said_so() -> None:
    assert "Noisy run" not in report.section(doc(ROUNDS))
    busy = dict(doc(ROUNDS), load_avg="2.75 2.1 1.4")
    assert "**Noisy run: other processes kept the machine busy (1-minute load average 2.8 on " \
           "2 CPUs" in report.section(busy)


def test_page_lines_read_the_results_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    assert report.page_lines(path) == []
    path.write_text(json.dumps(doc(ROUNDS)))
    lines = report.page_lines(path)
    assert lines[0].startswith("## ") and lines[2] == report.MARK_START
    assert lines[-2] == report.MARK_END and "![gateway against" in lines[3]


def test_a_process_tree_and_its_cpu_time_are_read_from_proc() -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n" \
           "time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", burn])
    try:
        deadline = time.monotonic() + 20
        while servers.cpu_s(child.pid) < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in servers.tree(servers.os.getpid())
        assert servers.cpu_s(child.pid) >= 0.25
        assert servers.workers_of(child.pid) == [child.pid]  # it serves alone
        assert servers.rss_mb(child.pid) > 1
    finally:
        child.kill()
        child.wait(10)
