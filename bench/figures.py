"""From the raw runs of ``bench/results/latest.json`` to figures with a median and a range.

Every figure is computed per round first, then summarised over the rounds: a figure
relative to a floor (added latency, per-chunk overhead, x aiohttp) pairs each client with
the floor *in the same round*, so drift between rounds cancels. Import and cold-start
figures are summarised over their fresh processes. Stdlib only.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

AIOHTTP = "aiohttp (raw)"
MICRO = "plugbay (in-process)"
FORMS = "plugbay (import forms)"

Rec = dict[str, Any]


@dataclass(frozen=True)
class Fig:
    """One figure over rounds (or processes): median, min, max, how many."""

    med: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Fig | None:
        vals = [float(v) for v in values if v is not None]
        if not vals:
            return None
        return cls(statistics.median(vals), min(vals), max(vals), len(vals))

    def show(self, digits: int = 0, unit: str = "") -> str:
        """``12.3 [11.0, 14.1] us``: the median, then the range [min, max] when there is one."""
        f = f"{{:,.{digits}f}}"
        rng = f" [{f.format(self.lo)}, {f.format(self.hi)}]" if self.n > 1 else ""
        return f"{f.format(self.med)}{rng}{' ' + unit if unit else ''}"


def show(fig: Fig | None, digits: int = 0, unit: str = "") -> str:
    return "n/a" if fig is None else fig.show(digits, unit)


def _num(rec: Rec, key: str, scale: float = 1.0) -> float | None:
    v = rec.get(key)
    return float(v) * scale if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class Runs:
    """The good records by client and mode, each keyed by its round (or process) index."""

    def __init__(self, runs: list[Rec]) -> None:
        self.by: dict[tuple[str, str], list[Rec]] = {}
        self.errors: dict[tuple[str, str], list[str]] = {}
        for r in runs:
            key = (r.get("client", ""), r.get("mode", ""))
            if "error" in r:
                self.errors.setdefault(key, []).append(str(r["error"]))
            else:
                self.by.setdefault(key, []).append(r)

    def get(self, client: str, mode: str) -> list[Rec]:
        return self.by.get((client, mode), [])

    def rounds(self, client: str, mode: str) -> dict[Any, Rec]:
        return {r.get("round"): r for r in self.get(client, mode)}

    def fig(self, client: str, mode: str, key: str, scale: float = 1.0) -> Fig | None:
        return Fig.of(_num(r, key, scale) for r in self.get(client, mode))

    def paired(self, client: str, other: str, mode: str,
               fn: Callable[[Rec, Rec], float | None]) -> Fig | None:
        """``fn(client's record, other's record)`` in every round both have, summarised."""
        mine, theirs = self.rounds(client, mode), self.rounds(other, mode)
        return Fig.of(fn(mine[k], theirs[k]) for k in mine if k in theirs)


def _diff(key: str, scale: float = 1.0) -> Callable[[Rec, Rec], float | None]:
    def fn(a: Rec, b: Rec) -> float | None:
        x, y = _num(a, key), _num(b, key)
        return (x - y) * scale if x is not None and y is not None else None
    return fn


def _ratio(key: str, invert: bool = False) -> Callable[[Rec, Rec], float | None]:
    def fn(a: Rec, b: Rec) -> float | None:
        x, y = _num(a, key), _num(b, key)
        if not x or not y:
            return None
        return y / x if invert else x / y
    return fn


def best_floor(doc: dict[str, Any], runs: Runs) -> str | None:
    """The raw client with the lowest median sequential p50: the floor for added latency."""
    found = [(f.med, n) for n, c in doc["clients"].items()
             if c["floor"] and (f := runs.fig(n, "seq", "p50_us")) is not None]
    return min(found)[1] if found else None


def derive(doc: dict[str, Any]) -> dict[str, dict[str, Fig | None]]:
    """Per client, every figure the page shows, in report units."""
    runs = Runs(doc["runs"])
    chunks = doc["plan"]["chunks"]
    floor = best_floor(doc, runs) or AIOHTTP
    out: dict[str, dict[str, Fig | None]] = {}
    for name in doc["clients"]:
        f = runs.fig
        out[name] = {
            "import_ms": f(name, "import", "import_s", 1e3),
            "import_cpu_ms": f(name, "import", "import_cpu_s", 1e3),
            "import_rss_mb": f(name, "import", "rss_after_mb"),
            "cold_ms": f(name, "cold", "cold_s", 1e3),
            "cold_cpu_ms": f(name, "cold", "cold_cpu_s", 1e3),
            "build_ms": f(name, "cold", "build_s", 1e3),
            "cold_proc_ms": f(name, "cold", "process_wall_s", 1e3),
            "p50_us": f(name, "seq", "p50_us"),
            "p99_us": f(name, "seq", "p99_us"),
            "cpu_seq_us": f(name, "seq", "cpu_per_req_us"),
            "added_us": runs.paired(name, floor, "seq", _diff("p50_us")),
            "added_cpu_us": runs.paired(name, floor, "seq", _diff("cpu_per_req_us")),
            "ttfc_us": f(name, "stream", "ttfc_p50_us"),
            "stream_ms": f(name, "stream", "total_p50_us", 1e-3),
            "cpu_chunk_us": f(name, "stream", "cpu_per_chunk_us"),
            "chunk_us": runs.paired(name, floor, "stream", _diff("total_p50_us", 1 / chunks)),
            "chunk_cpu_us": runs.paired(name, floor, "stream", _diff("cpu_per_chunk_us")),
            "rps": f(name, "conc", "rps"),
            "rps_x": runs.paired(name, AIOHTTP, "conc", _ratio("rps")),
            "cpu_conc_us": f(name, "conc", "cpu_per_req_us"),
            "rps_cpu": Fig.of(1e6 / v for r in runs.get(name, "conc")
                              if (v := _num(r, "cpu_per_req_us"))),
            "rps_cpu_x": runs.paired(name, AIOHTTP, "conc", _ratio("cpu_per_req_us", True)),
            "rss_load_mb": f(name, "conc", "rss_mb"),
            "maxrss_mb": f(name, "conc", "maxrss_mb"),
            "server_cpu_us": f(name, "conc", "server_cpu_per_req_us"),
            "server_conns": f(name, "conc", "server_connections"),
        }
    return out


def import_ratio(doc: dict[str, Any], name: str, other: str, key: str) -> Fig | None:
    """``other``'s import over ``name``'s, paired by import run."""
    return Runs(doc["runs"]).paired(other, name, "import", _ratio(key))


def micro(doc: dict[str, Any]) -> dict[str, Any]:
    """The in-process measures and the import forms: ``{"<part>.<key>": Fig}``, plus
    ``"<part>.why"`` (a skip or error line) and ``"forms.loaded"`` (heavy modules)."""
    runs = Runs(doc["runs"])
    out: dict[str, Any] = {}
    parts: dict[str, list[Rec]] = {}
    for rec in runs.get(MICRO, "micro"):
        for part, fig in rec.items():
            if isinstance(fig, dict):
                parts.setdefault(part, []).append(fig)
    for part, recs in parts.items():
        good = [r for r in recs if "skipped" not in r and "error" not in r]
        for key in sorted({k for r in good for k in r}):
            out[f"{part}.{key}"] = Fig.of(_num(r, key) for r in good)
        why = [r.get("skipped") or r.get("error") for r in recs if r not in good]
        if why:
            out[f"{part}.why"] = why[-1]
    errors = runs.errors.get((MICRO, "micro"))
    if errors:
        out["micro.why"] = errors[-1]
    forms = runs.get(FORMS, "import_form")
    for form in ("module", "client"):
        mine = [r for r in forms if r.get("form") == form]
        out[f"forms.{form}_ms"] = Fig.of(_num(r, "import_s", 1e3) for r in mine)
        out[f"forms.{form}_cpu_ms"] = Fig.of(_num(r, "import_cpu_s", 1e3) for r in mine)
        if mine:
            out[f"forms.{form}_loaded"] = mine[-1].get("loaded", [])
    if runs.errors.get((FORMS, "import_form")):
        out["forms.why"] = runs.errors[(FORMS, "import_form")][-1]
    return out


def medians(d: dict[str, dict[str, Fig | None]]) -> dict[str, dict[str, float | None]]:
    """The medians alone (for the chart)."""
    return {n: {k: (f.med if f is not None else None) for k, f in row.items()}
            for n, row in d.items()}
