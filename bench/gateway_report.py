"""Figures, goals, section and chart of the gateway benchmark (`bench/gateway_bench.py`).

The section is the same markdown in `docs/gateway.md` and `docs/performance.md`, between
``MARK_START`` and ``MARK_END``; `report.py` renders it into the performance page from
`bench/results/gateway.json` on every run, `gateway_bench.py --docs` rewrites both pages.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_contenders import GATEWAY, GATEWAY_LEDGER, PROXY

MARK_START = "<!-- gateway-bench:start -->"
MARK_END = "<!-- gateway-bench:end -->"
CHART = "gateway.png"
# The goals of issue 14.
ADDED_P50_MS, TIMES_PROXY, READY_S, RSS_MB = 0.5, 20.0, 1.0, 80.0

Row = dict[str, Any]
METRICS: dict[str, Callable[[Row, Row], float]] = {
    "ready_s": lambda r, d: r["ready_s"],
    "p50_us": lambda r, d: r["seq"]["p50_us"],
    "p99_us": lambda r, d: r["seq"]["p99_us"],
    "added_p50_us": lambda r, d: r["seq"]["p50_us"] - d["p50_us"],
    "seq_cpu_us": lambda r, d: r["seq"]["server_cpu_us"],
    "rps": lambda r, d: r["conc"]["per_s"],
    "cpu_req_us": lambda r, d: r["conc"]["server_cpu_us"],
    "streams_per_s": lambda r, d: r["stream"]["per_s"],
    "cpu_stream_us": lambda r, d: r["stream"]["server_cpu_us"],
    "rss_worker_mb": lambda r, d: max(r["rss_workers_mb"]),
    "rss_tree_mb": lambda r, d: r["rss_tree_mb"],
}
# Gateway over proxy, per round: wall clock (rate over rate) and CPU (the proxy's CPU per
# call over the gateway's: calls per CPU-second, the noise of other processes taken out).
RATIOS: dict[str, Callable[[Row, Row], float]] = {
    "rps_x": lambda g, p: g["conc"]["per_s"] / p["conc"]["per_s"],
    "streams_x": lambda g, p: g["stream"]["per_s"] / p["stream"]["per_s"],
    "rps_cpu_x": lambda g, p: p["conc"]["server_cpu_us"] / g["conc"]["server_cpu_us"],
    "streams_cpu_x": lambda g, p: p["stream"]["server_cpu_us"] / g["stream"]["server_cpu_us"],
}
Stat = tuple[float, float, float]  # median, min, max


def _stat(values: list[float]) -> Stat | None:
    return (statistics.median(values), min(values), max(values)) if values else None


def summary(doc: dict[str, Any]) -> dict[str, dict[str, Stat | None]]:
    """Per server, each metric's median [min, max] over rounds; ``"ratio"``: gateway/proxy."""
    out: dict[str, dict[str, Stat | None]] = {}
    rounds = doc["rounds"]
    for name in doc["servers"]:
        got = [r for r in rounds if name in r]
        out[name] = {m: _stat([f(r[name], r["direct"]) for r in got]) for m, f in METRICS.items()}
    both = [r for r in rounds if GATEWAY in r and PROXY in r]
    out["ratio"] = {m: _stat([f(r[GATEWAY], r[PROXY]) for r in both]) for m, f in RATIOS.items()}
    out["direct"] = {"p50_us": _stat([r["direct"]["p50_us"] for r in rounds])}
    return out


def _fmt(s: Stat | None, scale: float = 1.0, digits: int = 0, unit: str = "") -> str:
    if s is None:
        return "n/a"
    med, lo, hi = (v * scale for v in s)
    if lo == hi:
        return f"{med:,.{digits}f}{unit}"
    return f"{med:,.{digits}f} [{lo:,.{digits}f}, {hi:,.{digits}f}]{unit}"


def _verdict(s: Stat | None, ok: Callable[[float], bool]) -> str:
    return "" if s is None else ("PASS" if ok(s[0]) else "**MISS**")


def goals(d: dict[str, dict[str, Stat | None]]) -> list[str]:
    g, x = d.get(GATEWAY, {}), d["ratio"]
    # (goal, wall figure, CPU figure or "" when the goal has no CPU form, scale, digits, unit)
    rows: list[tuple[str, Stat | None, Stat | str | None, float, int, str,
                     Callable[[float], bool]]] = [
        ("added latency p50 <= 0.5 ms over a direct plugbay call (CPU: the gateway's CPU "
         "per call)", g.get("added_p50_us"), g.get("seq_cpu_us"), 1e-3, 2, " ms",
         lambda v: v <= ADDED_P50_MS * 1000),
        ("requests/s at 64 concurrent >= 20x the LiteLLM proxy's", x["rps_x"],
         x["rps_cpu_x"], 1.0, 1, "x", lambda v: v >= TIMES_PROXY),
        ("streams/s at 16 concurrent >= 20x the LiteLLM proxy's", x["streams_x"],
         x["streams_cpu_x"], 1.0, 1, "x", lambda v: v >= TIMES_PROXY),
        ("start to ready <= 1 s", g.get("ready_s"), "", 1.0, 2, " s", lambda v: v <= READY_S),
        ("RSS per worker after load <= 80 MB", g.get("rss_worker_mb"), "", 1.0, 1, " MB",
         lambda v: v <= RSS_MB),
    ]
    lines = ["| goal | wall clock: median [min, max] | | CPU time: median [min, max] | |",
             "|---|---|---|---|---|"]
    for label, wall, cpu, scale, digits, unit, ok in rows:
        cpu_cells = ("— | " if isinstance(cpu, str) else
                     f"{_fmt(cpu, scale, digits, unit)} | {_verdict(cpu, ok)}")
        lines.append(f"| {label} | {_fmt(wall, scale, digits, unit)} | {_verdict(wall, ok)} | "
                     f"{cpu_cells} |")
    return lines


def _table(doc: dict[str, Any], d: dict[str, dict[str, Stat | None]]) -> list[str]:
    names = [n for n in doc["servers"] if n in d and d[n]["ready_s"] is not None]
    rows = [("start to ready (s)", "ready_s", 1.0, 2),
            ("latency p50 (ms)", "p50_us", 1e-3, 2),
            ("added latency p50 over a direct call (ms)", "added_p50_us", 1e-3, 2),
            ("latency p99 (ms)", "p99_us", 1e-3, 2),
            ("requests/s, 64 concurrent", "rps", 1.0, 0),
            ("server CPU per request (us)", "cpu_req_us", 1.0, 0),
            ("streams/s, 16 concurrent, 20 chunks each", "streams_per_s", 1.0, 0),
            ("server CPU per stream (us)", "cpu_stream_us", 1.0, 0),
            ("RSS per worker after load (MB)", "rss_worker_mb", 1.0, 1),
            ("RSS of all its processes (MB)", "rss_tree_mb", 1.0, 1)]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key, scale, digits in rows:
        lines.append(f"| {label} | " + " | ".join(_fmt(d[n][key], scale, digits)
                                                    for n in names) + " |")
    return lines


def section(doc: dict[str, Any]) -> str:
    """The markdown between the markers."""
    d = summary(doc)
    v = doc["versions"]
    w = doc["workers"]
    head = [
        f"Measured by `bench/gateway_bench.py` (part of `bench/run`) on {doc['date']}: "
        f"{w} worker{'s' if w != 1 else ''} each, one upstream (`bench/upstream.py`), "
        f"{len(doc['rounds'])} interleaved round{'s' if len(doc['rounds']) != 1 else ''} of "
        f"{doc['seconds']:g} s per load phase; {doc['cpus']} CPUs, load average at start / "
        f"end {doc['load_avg']} / {doc.get('load_avg_end', '?')}. Versions: plugbay "
        f"{v.get('plugbay') or '?'} (uvicorn {v.get('uvicorn') or '?'}), litellm "
        f"{v.get('litellm') or '?'}. A direct plugbay call to the upstream: p50 "
        f"{_fmt(d['direct']['p50_us'], 1e-3, 2)} ms.",
        "",
    ]
    busy = float(doc["load_avg"].split()[0])
    if busy > 1.0:  # as the performance page says it
        head += [f"**Noisy run: other processes kept the machine busy (1-minute load average "
                 f"{busy:.1f} on {doc['cpus']} CPUs when the run began). Wall-clock figures "
                 "are inflated and spread; ratios within one round and CPU time hold up "
                 "best.**", ""]
    for name, why in doc.get("errors", {}).items():
        head += [f"- **{name}: not available**: {why}", ""]
    body = [*goals(d), "", *_table(doc, d), "",
            f"![gateway against the LiteLLM proxy]({CHART})", ""]
    pinning = ("Upstream and load client share CPU 0, the server has CPU 1" if doc["pinned"]
               else "Nothing is pinned")
    pinning += f", at nice {doc['nice']}." if doc.get("nice") else "."
    method = [
        "How: each server gets the same config (one model routed to the upstream, key "
        "check by a master key, no spend accounting: the proxy without a database, the "
        "gateway with its ledger off), the same worker count and its default logging "
        "(an access line per request, to a file). "
        f"*{GATEWAY_LEDGER}* is the gateway with its SQLite ledger on (a row per call, the "
        "virtual-keys layer in the pipeline): what spend accounting costs, shown but not "
        "judged, since the proxy here keeps no spend. Start to ready is spawn "
        "until the health URL first answers 200 (`/health`, `/health/liveliness`). The load is "
        "the harness's own async client (`bench/gateway_load.py`: a `plugbay.Client` with "
        "retries and ledger off, a fresh process per phase), not an external load tool, so "
        "the direct baseline and the calls through each server go through the same client "
        "code: sequential calls (latency), 64 concurrent requests (requests/s), 16 "
        "concurrent streams read to their end (streams/s). Server CPU is the server's "
        "process tree's CPU time over a phase divided by the calls made in it. "
        f"{pinning} "
        "Each figure is the median over rounds with [min, max].",
    ]
    return "\n".join(head + body + method) + "\n"


def page_lines(path: Path, heading: str = "## The gateway against the LiteLLM proxy",
               ) -> list[str]:
    """The section with its heading and markers, for ``report.py`` (none without results)."""
    if not path.exists():
        return []
    text = section(json.loads(path.read_text()))
    return [heading, "", MARK_START, text.rstrip("\n"), MARK_END, ""]


def _write_block(page: Path, text: str, heading: str, before: str | None) -> None:
    doc = page.read_text()
    block = f"{MARK_START}\n{text}{MARK_END}"
    if MARK_START in doc and MARK_END in doc:
        head, rest = doc.split(MARK_START, 1)
        doc = head + block + rest.split(MARK_END, 1)[1]
    elif before and f"\n{before}" in doc:
        head, rest = doc.split(f"\n{before}", 1)
        doc = f"{head}\n{heading}\n\n{block}\n\n{before}{rest}"
    else:
        doc = f"{doc.rstrip()}\n\n{heading}\n\n{block}\n"
    page.write_text(doc)


def update_docs(doc: dict[str, Any], docs: Path) -> None:
    text = section(doc)
    _write_block(docs / "gateway.md", text, "## Performance", "## Limits")
    _write_block(docs / "performance.md", text, "## The gateway against the LiteLLM proxy",
                 "## Is the upstream the bottleneck?")


def chart(doc: dict[str, Any], path: Path) -> Path | None:
    """Six panels, one bar per server, red dashes at the goals; None without matplotlib."""
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]
    from matplotlib.ticker import NullFormatter  # type: ignore[import-not-found,unused-ignore]

    d = summary(doc)
    names = [n for n in doc["servers"] if n in d and d[n]["ready_s"] is not None]
    if not names:
        return None
    proxy = d.get(PROXY, {})

    def goal(key: str, f: Callable[[float], float]) -> float | None:
        s = proxy.get(key)
        return f(s[0]) if s else None

    panels = [
        ("added_p50_us", 1e-3, "added latency p50 over a direct call (ms)", ADDED_P50_MS),
        ("rps", 1.0, "requests/s, 64 concurrent", goal("rps", lambda v: v * TIMES_PROXY)),
        ("streams_per_s", 1.0, "streams/s, 16 concurrent",
         goal("streams_per_s", lambda v: v * TIMES_PROXY)),
        ("cpu_req_us", 1.0, "server CPU per request (us)",
         goal("cpu_req_us", lambda v: v / TIMES_PROXY)),
        ("ready_s", 1.0, "start to ready (s)", READY_S),
        ("rss_worker_mb", 1.0, "RSS per worker after load (MB)", RSS_MB),
    ]
    colours = {GATEWAY: "#2e7d32", PROXY: "#1565c0", GATEWAY_LEDGER: "#81c784"}
    fig, axes = plt.subplots(2, 3, figsize=(13, 5))
    for ax, (key, scale, title, line) in zip(axes.flat, panels, strict=True):
        vals = [(d[n][key] or (0.0, 0.0, 0.0))[0] * scale for n in names]
        bars = ax.barh(names, vals, color=[colours.get(n, "#616161") for n in names])
        for bar, v in zip(bars, vals, strict=True):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {v:,.2f}" if abs(v) < 10 else f" {v:,.0f}", va="center", fontsize=8)
        if line is not None:
            ax.axvline(line, color="#c62828", linestyle="--", linewidth=1)
        if min(vals) > 0 and max(vals) / min(vals) > 8:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labels on decades only
        ax.set_title(title, fontsize=10)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
        ax.margins(x=0.3)
    w = doc["workers"]
    fig.suptitle(f"plugbay gateway vs LiteLLM proxy, {w} worker{'s' if w != 1 else ''} each, "
                 f"{doc['date']}: red dashes = the gateway's goals", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
