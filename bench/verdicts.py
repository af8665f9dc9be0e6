"""plugbay's targets, each judged on the median, by wall clock and by CPU time.

A target has a wall-clock figure and, where one exists, a CPU-time figure (the client
process's CPU time, all threads): the CPU figure is the one other work on the machine
cannot inflate. Each side gets its own PASS or MISS; a figure that was not measured says
why. ``plugbay_targets`` are the standing targets, per plugbay variant; ``issue12_targets``
are the figures issue 12 asks for, side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from figures import Fig, import_ratio, show

LITELLM = "litellm"
Check = Callable[[float], bool]


@dataclass
class Side:
    shown: str
    ok: bool | None  # None: not measured (or no such figure)


@dataclass
class Target:
    text: str
    wall: Side
    cpu: Side


def side(fig: Fig | None, check: Check, digits: int, unit: str, why: str) -> Side:
    if fig is None:
        return Side(f"not measured: {why}", None)
    return Side(fig.show(digits, unit), check(fig.med))


NONE = Side("—", None)


def at_most(limit: float) -> Check:
    return lambda v: v <= limit


def at_least(limit: float) -> Check:
    return lambda v: v >= limit


def plugbay_targets(name: str, d: dict[str, dict[str, Fig | None]], doc: dict[str, Any],
                    unavailable: str | None, floor: str) -> list[Target]:
    me = d.get(name, {})
    why = unavailable or "not measured in this run"
    lite_why = why if name not in d else "litellm was not measured in this run"
    wall_ratio = import_ratio(doc, name, LITELLM, "import_s") if LITELLM in d else None
    cpu_ratio = import_ratio(doc, name, LITELLM, "import_cpu_s") if LITELLM in d else None

    def t(text: str, wall: tuple[str, Check, int, str], cpu: tuple[str, Check, int, str] | None,
          w: str = why) -> Target:
        key, check, digits, unit = wall
        c = NONE if cpu is None else side(me.get(cpu[0]), cpu[1], cpu[2], cpu[3], w)
        return Target(text, side(me.get(key), check, digits, unit, w), c)

    return [
        t("`import plugbay` <= 60 ms", ("import_ms", at_most(60), 1, "ms"),
          ("import_cpu_ms", at_most(60), 1, "ms")),
        Target("import <= 1/30 of litellm's",
               side(wall_ratio, at_least(30), 0, "x", lite_why),
               side(cpu_ratio, at_least(30), 0, "x", lite_why)),
        t("cold start to first completion <= 300 ms", ("cold_ms", at_most(300), 0, "ms"),
          ("cold_cpu_ms", at_most(300), 0, "ms")),
        t(f"added latency p50 <= 100 us over the best raw client ({floor})",
          ("added_us", at_most(100), 0, "us"), ("added_cpu_us", at_most(100), 0, "us")),
        t("throughput at 64 concurrent >= 0.8x raw aiohttp", ("rps_x", at_least(0.8), 2, "x"),
          ("rps_cpu_x", at_least(0.8), 2, "x")),
        t("per-chunk streaming overhead <= 10 us", ("chunk_us", at_most(10), 1, "us"),
          ("chunk_cpu_us", at_most(10), 1, "us")),
        t("RSS after load <= 60 MB", ("rss_load_mb", at_most(60), 1, "MB"), None),
    ]


def issue12_targets(m: dict[str, Any], d: dict[str, dict[str, Fig | None]],
                    variants: list[str], unavailable: dict[str, str]) -> list[Target]:
    """The figures issue 12's acceptance names, from the in-process measures, the import
    forms and the load rounds."""

    def why(part: str) -> str:
        return str(m.get(f"{part}.why") or m.get("micro.why") or "not measured in this run")

    def pair(part: str, wall: str, cpu: str, limit: float, digits: int = 1) -> tuple[Side, Side]:
        return (side(m.get(f"{part}.{wall}"), at_most(limit), digits, "us", why(part)),
                side(m.get(f"{part}.{cpu}"), at_most(limit), digits, "us", why(part)))

    out = [
        Target(
            "`from plugbay import Client` <= 80 ms "
            f"(`import plugbay`: {show(m.get('forms.module_ms'), 1, 'ms')})",
            side(m.get("forms.client_ms"), at_most(80), 1, "ms", why("forms")),
            side(m.get("forms.client_cpu_ms"), at_most(80), 1, "ms", why("forms")),
        ),
        Target("pipeline overhead, routing + ledger on, over a direct plugin call <= 20 us",
               *pair("pipeline", "overhead_p50_us", "overhead_cpu_us", 20)),
    ]
    for name in variants:
        row = d.get(name, {})
        w = unavailable.get(name, "not measured in this run")
        out.append(Target(f"throughput at 64 concurrent >= 1.0x raw aiohttp ({name})",
                          side(row.get("rps_x"), at_least(1.0), 2, "x", w),
                          side(row.get("rps_cpu_x"), at_least(1.0), 2, "x", w)))
    out += [
        Target("cache hit, memory <= 50 us", *pair("cache_memory", "hit_p50_us", "hit_cpu_us", 50)),
        Target("cache hit, SQLite <= 300 us",
               *pair("cache_sqlite", "hit_p50_us", "hit_cpu_us", 300)),
        Target("sync stream overhead per chunk over async <= 10 us",
               *pair("syncstream", "overhead_chunk_us", "overhead_cpu_chunk_us", 10)),
    ]
    return out


def verdict(s: Side) -> str:
    if s.ok is None:
        return "" if s is NONE or s.shown == "—" else "NOT MEASURED"
    return "PASS" if s.ok else "**MISS**"


def table(rows: list[Target]) -> list[str]:
    """The markdown table of ``rows``."""
    lines = ["| target | wall clock: median [min, max] | | CPU time: median [min, max] | |",
             "|---|---|---|---|---|"]
    for r in rows:
        cpu = r.cpu.shown
        if r.wall.ok is None and r.cpu.ok is None and cpu == r.wall.shown:
            cpu = "(the same)"  # one reason, said once
        lines.append(f"| {r.text} | {r.wall.shown} | {verdict(r.wall)} | {cpu} | "
                     f"{verdict(r.cpu)} |")
    return lines
