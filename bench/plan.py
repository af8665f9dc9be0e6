"""What ``bench/run`` measures and for how long: the clients and the plan (rounds, seconds).

Adding a client or a plugbay variant is one ``Client(...)`` row in ``CLIENTS``. The plan's
defaults are the method ``docs/performance.md`` describes; ``--quick`` is a smoke run of
the same pipeline, and ``--rounds``/``--load-s`` (or ``BENCH_ROUNDS``/``BENCH_LOAD_S``)
change the two figures that set the run's length.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace


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

# The share of a client's load seconds in each phase of a round. Throughput, the figure
# most exposed to the machine's noise, gets the largest share.
SPLIT = {"seq": 0.3, "stream": 0.3, "conc": 0.4}


@dataclass(frozen=True)
class Plan:
    import_runs: int = 5  # fresh interpreters per client for import and for cold start
    form_pairs: int = 4  # per import run: `import plugbay` / `from plugbay import Client` each
    rounds: int = 5  # load rounds; each runs every client once, in a rotated order
    min_rounds: int = 5  # the time budget never stops a run before this many rounds
    load_s: float = 10.0  # seconds of load per client per round, over the phases in SPLIT
    seq_warmup: int = 100  # the stream phase warms up with a tenth of this
    chunks: int = 200
    conc: int = 64
    conc_warmup: int = 256
    micro_s: float = 3.0  # per in-process measure (pipeline, cache, sync stream) per round
    micro_chunks: int = 200
    ceiling_runs: int = 3
    ceiling_s: float = 1.0
    # Past min_rounds, start no load round that would end past this many seconds after
    # bench/run began (BENCH_RUN_START; venv setup included): the command stays < 12 min.
    budget_s: float = 690.0
    timeout_s: float = 180.0
    quick: bool = False

    def phase_s(self, mode: str) -> float:
        return self.load_s * SPLIT[mode]


QUICK = Plan(
    import_runs=2,
    form_pairs=3,
    rounds=2,
    min_rounds=2,
    load_s=2.0,
    seq_warmup=30,
    conc_warmup=64,
    micro_s=0.6,
    ceiling_runs=1,
    ceiling_s=0.5,
    quick=True,
)


def parse_args(argv: list[str] | None = None) -> tuple[Plan, list[str]]:
    """The plan and the wanted client names from the command line and the environment."""
    ap = argparse.ArgumentParser(description="Run the bench clients and save the results.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 rounds of 2 s, few import runs (figures are rough)")
    ap.add_argument("--only", default="", help="comma-separated client names (default: all)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "0")),
                    help="load rounds (default 5; env BENCH_ROUNDS)")
    ap.add_argument("--load-s", type=float, default=float(os.environ.get("BENCH_LOAD_S", "0")),
                    help="seconds of load per client per round (default 10; env BENCH_LOAD_S)")
    ap.add_argument("--budget-s", type=float, default=0.0,
                    help="start no round that would end later than this after bench/run began")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.rounds > 0:
        plan = replace(plan, rounds=args.rounds)
    if args.load_s > 0:
        plan = replace(plan, load_s=args.load_s)
    if args.budget_s > 0:
        plan = replace(plan, budget_s=args.budget_s)
    return plan, [n for n in args.only.split(",") if n]
