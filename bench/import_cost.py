"""Import cost of plugbay, measured in fresh processes (standalone; stdlib only).

    .venv/bin/python bench/import_cost.py [--n 25] [--json]

Each row runs its snippet in ``--n`` fresh interpreters (``python -S``-free, the venv's
own ``python``), timing only the snippet with ``perf_counter`` inside the child (so the
interpreter's own start-up is left out, as in ``bench/clients/_common.py``'s import
mode), and reports the median and range in ms. Rows are interleaved round by round so
machine noise hits every row alike.
"""

from __future__ import annotations

import json
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
t0 = time.perf_counter()
{code}
t1 = time.perf_counter()
print(t1 - t0)
"""


def once(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD.format(code=code)], capture_output=True,
                         text=True, check=True, cwd="/")  # cwd: no plugbay.toml is found
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def main(argv: list[str]) -> None:
    n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 25
    samples: dict[str, list[float]] = {name: [] for name in ROWS}
    for code in ROWS.values():  # one warm-up each: the OS file cache, .pyc files
        once(code)
    for _ in range(n):
        for name, code in ROWS.items():
            samples[name].append(once(code))
    result = {name: {"median_ms": round(statistics.median(s), 1), "min_ms": round(min(s), 1),
                     "max_ms": round(max(s), 1), "n": n} for name, s in samples.items()}
    if "--json" in argv:
        print(json.dumps(result))
        return
    print(f"{'':32} {'median':>8} {'range':>16}   (ms, n={n}, fresh processes)")
    for name, r in result.items():
        print(f"{name:32} {r['median_ms']:8.1f} {r['min_ms']:7.1f}-{r['max_ms']:<8.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
