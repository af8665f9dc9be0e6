"""Turn ``bench/results/latest.json`` into ``docs/performance.md`` and ``docs/performance.png``.

Every target is printed with its measured figure and PASS or MISS; a target that could not be
measured says so and why. Needs matplotlib (the bench ``tools`` venv has it).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"
LITELLM = "litellm"
AIOHTTP = "aiohttp (raw)"


def _get(row: dict[str, Any], mode: str, key: str) -> float | None:
    v = row.get(mode, {}).get(key)
    return float(v) if isinstance(v, (int, float)) else None


def derive(doc: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per-client figures in report units, including those relative to the best floor."""
    clients: dict[str, dict[str, Any]] = doc["clients"]
    chunks = doc["plan"]["chunks"]
    floors = [r for r in clients.values() if r["floor"]]
    floor_p50 = min(
        (v for r in floors if (v := _get(r, "seq", "p50_us")) is not None), default=None
    )
    floor_total = min(
        (v for r in floors if (v := _get(r, "stream", "total_p50_us")) is not None), default=None
    )
    aio_rps = _get(clients.get(AIOHTTP, {}), "conc", "rps")
    aio_cpu = _get(clients.get(AIOHTTP, {}), "conc", "cpu_per_req_us")
    out: dict[str, dict[str, float | None]] = {}
    for name, row in clients.items():
        imp = _get(row, "import", "import_s")
        cold = _get(row, "cold", "cold_s")
        p50 = _get(row, "seq", "p50_us")
        total = _get(row, "stream", "total_p50_us")
        rps = _get(row, "conc", "rps")
        out[name] = {
            "import_ms": imp * 1e3 if imp is not None else None,
            "import_rss_mb": _get(row, "import", "rss_after_mb"),
            "cold_ms": cold * 1e3 if cold is not None else None,
            "build_ms": (v * 1e3 if (v := _get(row, "cold", "build_s")) else None),
            "cold_proc_ms": (v * 1e3 if (v := _get(row, "cold", "process_wall_s")) else None),
            "p50_us": p50,
            "p99_us": _get(row, "seq", "p99_us"),
            "added_us": p50 - floor_p50 if p50 is not None and floor_p50 is not None else None,
            "cpu_seq_us": _get(row, "seq", "cpu_per_req_us"),
            "ttfc_us": _get(row, "stream", "ttfc_p50_us"),
            "stream_ms": total / 1e3 if total is not None else None,
            "chunk_us": (
                (total - floor_total) / chunks
                if total is not None and floor_total is not None
                else None
            ),
            "cpu_chunk_us": _get(row, "stream", "cpu_per_chunk_us"),
            "rps": rps,
            "rps_x": rps / aio_rps if rps is not None and aio_rps else None,
            "cpu_conc_us": (cpu_conc := _get(row, "conc", "cpu_per_req_us")),
            "rps_cpu": 1e6 / cpu_conc if cpu_conc else None,
            "rps_cpu_x": aio_cpu / cpu_conc if aio_cpu and cpu_conc else None,
            "rss_load_mb": _get(row, "conc", "rss_mb"),
            "maxrss_mb": _get(row, "conc", "maxrss_mb"),
            "server_cpu_us": _get(row, "conc", "server_cpu_per_req_us"),
            "server_conns": _get(row, "conc", "server_connections"),
        }
    return out


def fmt(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


@dataclass
class Target:
    text: str
    measured: str
    ok: bool | None  # None: not measured


def targets(
    name: str, d: dict[str, dict[str, float | None]], unavailable: str | None, floor_name: str
) -> list[Target]:
    me = d.get(name, {})
    lite = d.get(LITELLM, {}).get("import_ms")
    imp = me.get("import_ms")

    def t(text: str, value: float | None, ok: bool | None, shown: str, why: str = "") -> Target:
        if value is None:
            why = unavailable or why or "not measured in this run"
            return Target(text, f"not measured: {why}", None)
        return Target(text, shown, ok)

    ratio = lite / imp if lite is not None and imp else None
    cold, added, rps_x = me.get("cold_ms"), me.get("added_us"), me.get("rps_x")
    chunk, rss = me.get("chunk_us"), me.get("rss_load_mb")
    return [
        t("`import plugbay` <= 60 ms", imp, imp is not None and imp <= 60, f"{fmt(imp, 1)} ms"),
        t(
            "import <= 1/30 of litellm's",
            ratio,
            ratio is not None and ratio >= 30,
            f"litellm {fmt(lite)} ms / plugbay {fmt(imp, 1)} ms = {fmt(ratio, 1)}x",
            "" if lite is not None else "litellm was not measured in this run",
        ),
        t(
            "cold start to first completion <= 300 ms",
            cold,
            cold is not None and cold <= 300,
            f"{fmt(cold)} ms (whole process: {fmt(me.get('cold_proc_ms'))} ms)",
        ),
        t(
            f"added latency p50 <= 100 us over the best raw client ({floor_name})",
            added,
            added is not None and added <= 100,
            f"{fmt(added)} us",
        ),
        t(
            "throughput at 64 concurrent >= 0.8x raw aiohttp (wall clock and CPU time both)",
            rps_x,
            rps_x is not None and rps_x >= 0.8 and (me.get("rps_cpu_x") or 0.0) >= 0.8,
            f"{fmt(me.get('rps'))} req/s = {fmt(rps_x, 2)}x (by CPU time per request: "
            f"{fmt(me.get('rps_cpu_x'), 2)}x)",
        ),
        t(
            "per-chunk streaming overhead <= 10 us",
            chunk,
            chunk is not None and chunk <= 10,
            f"{fmt(chunk, 1)} us/chunk",
        ),
        t(
            "RSS after load <= 60 MB",
            rss,
            rss is not None and rss <= 60,
            f"{fmt(rss, 1)} MB (peak {fmt(me.get('maxrss_mb'), 1)} MB)",
        ),
    ]


def _best_floor(doc: dict[str, Any], d: dict[str, dict[str, float | None]]) -> str:
    floors = [
        (v, n)
        for n, r in doc["clients"].items()
        if r["floor"] and (v := d[n]["p50_us"]) is not None
    ]
    return min(floors)[1] if floors else "none"


def render(doc: dict[str, Any]) -> str:
    d = derive(doc)
    m, p, c = doc["machine"], doc["plan"], doc["ceiling"]
    floor = _best_floor(doc, d)
    lines = [
        "# Performance",
        "",
        "Generated by `bench/run` (see `bench/`); do not edit by hand. "
        f"{'**Quick smoke run: figures are rough.**' if p['quick'] else ''}",
        "",
        f"- Date: {doc['date']}; measurements took {doc['wall_s']:.0f} s",
        f"- Machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['mem_gib']} GiB, "
        f"Linux {m['kernel']}; {m['pinning']}",
        f"- Load average at start / end: {m.get('loadavg_start', '?')} / "
        f"{m.get('loadavg_end', '?')} (other work on the machine adds noise; CPU time per "
        "request is the most robust figure)",
        f"- Python: {m['python']}",
        "- Versions: " + "; ".join(f"{n} {r['version']}" for n, r in doc["clients"].items()),
        "",
    ]
    busy = float(str(m.get("loadavg_start", "0")).split()[0])
    if busy > 1.0:
        lines += [
            f"**Noisy run: other processes kept the machine busy (1-minute load average "
            f"{busy:.1f} on {m['nproc']} CPUs when the run began). Wall-clock figures, cold "
            "starts above all, are inflated; ratios within one run and CPU time per request "
            "hold up best.**",
            "",
        ]
    if doc["unavailable"]:
        lines += ["**Not available in this run:**", ""]
        lines += [f"- {n}: {why}" for n, why in doc["unavailable"].items()]
        lines.append("")
    lines += ["## Targets", ""]
    plugbays = [n for n, r in doc["clients"].items() if r["kind"] == "plugbay"]
    missing = [n for n in doc["unavailable"] if n.startswith("plugbay")]
    for name in plugbays + missing:
        lines += [f"### {name}", "", "| target | measured | result |", "|---|---|---|"]
        for tg in targets(name, d, doc["unavailable"].get(name), floor):
            verdict = "NOT MEASURED" if tg.ok is None else ("PASS" if tg.ok else "**MISS**")
            lines.append(f"| {tg.text} | {tg.measured} | {verdict} |")
        lines.append("")
    lines += [
        "## Startup",
        "",
        "Median of fresh interpreters. Import: `import <library>` alone (names a library loads "
        "lazily are paid for later, in the cold start). Cold start: import, "
        "build the client, one completion, timed inside the process (the whole process, "
        "interpreter start included, in brackets).",
        "",
        "| client | version | import (ms) | RSS after import (MB) | import + build client (ms) "
        "| cold start (ms) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for n, r in doc["clients"].items():
        x = d[n]
        lines.append(
            f"| {n} | {r['version']} | {fmt(x['import_ms'], 1)} | "
            f"{fmt(x['import_rss_mb'], 1)} | {fmt(x['build_ms'])} | {fmt(x['cold_ms'])} "
            f"({fmt(x['cold_proc_ms'])}) |"
        )
    rounds = p.get("rounds_done", p["rounds"])
    lines += [
        "",
        "## Latency and streaming",
        "",
        f"Medians over {rounds} interleaved rounds. Added latency and per-chunk overhead are "
        f"relative to the best raw floor ({floor}). Streams carry {p['chunks']} chunks.",
        "",
        "| client | p50 (us) | p99 (us) | added p50 (us) | CPU/req (us) | "
        "stream TTFC p50 (us) | stream total (ms) | overhead/chunk (us) | CPU/chunk (us) |",
        "|---|" + "---:|" * 8,
    ]
    for n in doc["clients"]:
        x = d[n]
        lines.append(
            f"| {n} | {fmt(x['p50_us'])} | {fmt(x['p99_us'])} | {fmt(x['added_us'])} | "
            f"{fmt(x['cpu_seq_us'])} | {fmt(x['ttfc_us'])} | {fmt(x['stream_ms'], 2)} | "
            f"{fmt(x['chunk_us'], 1)} | {fmt(x['cpu_chunk_us'], 1)} |"
        )
    lines += [
        "",
        f"## Throughput at {p['conc']} concurrent requests, and memory",
        "",
        "req/s is wall-clock; req per CPU-second (1 / CPU time per request) is the same "
        "comparison with the noise of other processes taken out. Upstream CPU/req is what "
        "each client cost the upstream, and connections how many it opened in the whole run "
        "(warm-up included; 64 is the minimum).",
        "",
        "| client | req/s | x aiohttp | CPU/req (us) | req per CPU-s | x aiohttp (CPU) | "
        "RSS after load (MB) | peak RSS (MB) | upstream CPU/req (us) | connections |",
        "|---|" + "---:|" * 9,
    ]
    for n in doc["clients"]:
        x = d[n]
        lines.append(
            f"| {n} | {fmt(x['rps'])} | {fmt(x['rps_x'], 2)} | {fmt(x['cpu_conc_us'])} | "
            f"{fmt(x['rps_cpu'])} | {fmt(x['rps_cpu_x'], 2)} | {fmt(x['rss_load_mb'], 1)} | "
            f"{fmt(x['maxrss_mb'], 1)} | {fmt(x['server_cpu_us'], 1)} | "
            f"{fmt(x['server_conns'])} |"
        )
    lines += ["", "![benchmark chart](performance.png)", ""]
    lines += _upstream_section(doc, d, c)
    lines += _method_section(doc)
    return "\n".join(lines) + "\n"


def _upstream_section(
    doc: dict[str, Any], d: dict[str, dict[str, float | None]], c: dict[str, Any]
) -> list[str]:
    aio = d.get(AIOHTTP, {})
    srv, rps = aio.get("server_cpu_us"), aio.get("rps")
    busy = rps * srv / 1e6 if rps and srv else None
    share = f"{busy:.0%}" if busy is not None else "n/a"
    fastest = max((x["rps"] for x in d.values() if x["rps"] is not None), default=None)
    ceiling = c.get("raw_keepalive64_rps")
    if busy is not None and busy < 0.5 and fastest and ceiling and fastest < 0.5 * ceiling:
        verdict = (
            "- No: the fastest client reached at most half of the upstream's 64-connection "
            "ceiling, and the upstream idled most of the time, so the figures measure clients."
        )
    else:
        verdict = (
            "- **Possibly: the upstream was busy or near its ceiling; treat the throughput "
            "figures of the fastest clients as lower bounds.**"
        )
    return [
        "## Is the upstream the bottleneck?",
        "",
        f"- Raw pipelined client ({c['conns']:.0f} keep-alive connections x {c['depth']:.0f} "
        f"in flight, byte counting only): **{fmt(c['raw_rps'])} req/s**, and "
        f"{fmt(c['raw_stream_rps'])} streams/s of {c['stream_chunks']:.0f} chunks; with 64 "
        f"keep-alive connections one request deep (no pipelining): "
        f"**{fmt(c.get('raw_keepalive64_rps'))} req/s**.",
        f"- Raw aiohttp at {doc['plan']['conc']} concurrent: {fmt(rps)} req/s, the upstream "
        f"spending {fmt(srv, 1)} us of CPU per request: it was busy {share} of the time on "
        "its own core.",
        verdict,
        "",
    ]


def _method_section(doc: dict[str, Any]) -> list[str]:
    p = doc["plan"]
    return [
        "## Method",
        "",
        "- Upstream: `bench/upstream.py`, a raw asyncio HTTP/1.1 keep-alive server returning "
        "precomputed OpenAI-shaped bytes.",
        "- Each client runs in a fresh interpreter of its own venv (`bench/.venvs/<name>`, "
        "never a project dependency) through the same protocol (`bench/clients/_common.py`); "
        "the raw floors build the same JSON body and parse the JSON response themselves.",
        f"- Import and cold start: {p['import_runs']} fresh interpreters each. Sequential: "
        f"up to {p['seq_n']} requests after {p['seq_warmup']} warm-up. Streaming: up to "
        f"{p['stream_n']} streams of {p['chunks']} chunks. Throughput: up to {p['conc_n']} "
        f"requests over {p['conc']} concurrent tasks. A timed phase stops after "
        f"{p['max_s']} s, so the slowest clients measure fewer requests.",
        "- CPU/req is `time.process_time()` over the timed phase divided by the requests. "
        "RSS after load is VmRSS right after the throughput run; peak RSS is VmHWM.",
        "- litellm runs with `LITELLM_LOCAL_MODEL_COST_MAP=True` (this machine has no network; "
        "otherwise its import tries to download a cost map). Its wheel is checked for `.pth` "
        "files before install (`bench/setup_venvs.sh`); its `certifi>=2026.10.19` floor is "
        "relaxed to the newest certifi the registry serves here (a CA bundle, no code path).",
        "- The upstream and the clients run at nice -10 where permitted, to shed some of the "
        "noise of other work on the machine.",
        "- Raw results: `bench/results/latest.json` (not committed).",
        "",
    ]


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "latest.json"
    doc = json.loads(src.read_text())
    DOCS.mkdir(exist_ok=True)
    from chart import chart  # matplotlib is imported only here

    chart(doc, derive(doc), DOCS / "performance.png")
    (DOCS / "performance.md").write_text(render(doc))
    print(f"wrote {DOCS / 'performance.md'} and {DOCS / 'performance.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
