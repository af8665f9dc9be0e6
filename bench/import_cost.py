"""Import cost of plugbay, measured in fresh processes (standalone; stdlib only).

    .venv/bin/python bench/import_cost.py [--n 25] [--json] [--src DIR ...]

Each row runs its snippet in ``--n`` fresh interpreters (the running ``python``, from
``/`` so no ``plugbay.toml`` is found), timing only the snippet inside the child with
``perf_counter`` and ``process_time`` (interpreter start-up is left out, as in the import
mode of ``bench/clients/_common.py``), and reports the median and range in ms. CPU time
is the steadier figure on a shared machine. Rows, and sources, are interleaved round by
round so machine noise hits all alike. ``--src DIR`` (repeatable) puts ``DIR`` first on
``PYTHONPATH``, to compare checkouts (say ``--src ../old-checkout/core/src --src core/src``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

ROWS = {
    "import plugbay": "import plugbay",
    "from plugbay import Client": "from plugbay import Client",
    "Client() (no config file)": "from plugbay import Client\nClient(env={})",
}

CHILD = """\
import time
t0, c0 = time.perf_counter(), time.process_time()
{code}
t1, c1 = time.perf_counter(), time.process_time()
print(t1 - t0, c1 - c0)
"""


def once(code: str, src: str | None) -> tuple[float, float]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD.format(code=code)], capture_output=True,
                         text=True, check=True, cwd="/", env=env)
    wall, cpu = out.stdout.split()[-2:]
    return float(wall) * 1000, float(cpu) * 1000


def stats(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1)}


def main(argv: list[str]) -> None:
    n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 25
    srcs: list[str | None] = [argv[i + 1] for i, a in enumerate(argv) if a == "--src"] or [None]
    keys = [(src, name) for src in srcs for name in ROWS]
    samples: dict[tuple[str | None, str], list[tuple[float, float]]] = {k: [] for k in keys}
    for src, name in keys:  # one warm-up each: the OS file cache, .pyc files
        once(ROWS[name], src)
    for _ in range(n):
        for src, name in keys:
            samples[(src, name)].append(once(ROWS[name], src))
    result = [{"src": src or "installed", "row": name, "n": n,
               "wall_ms": stats([w for w, _ in s]), "cpu_ms": stats([c for _, c in s])}
              for (src, name), s in samples.items()]
    if "--json" in argv:
        print(json.dumps(result))
        return
    print(f"ms in fresh processes, n={n}: median (min-max)")
    for r in result:
        w, c = r["wall_ms"], r["cpu_ms"]
        label = r["row"] if len(srcs) == 1 else f"{r['src']}: {r['row']}"
        print(f"{label:60} wall {w['median']:7.1f} ({w['min']:.1f}-{w['max']:.1f})"
              f"   cpu {c['median']:7.1f} ({c['min']:.1f}-{c['max']:.1f})")


if __name__ == "__main__":
    main(sys.argv[1:])
