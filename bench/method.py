"""The "Method" section of the performance page: how ``bench/run`` measures, with the
figures of the plan the run used."""

from __future__ import annotations

from typing import Any

from plan import SPLIT


def method_section(doc: dict[str, Any]) -> list[str]:
    p = doc["plan"]
    rounds = p.get("rounds_done", p["rounds"])
    phases = ", ".join(f"{mode} {p['load_s'] * share:g} s" for mode, share in SPLIT.items())
    return [
        "## Method",
        "",
        "- Upstream: `bench/upstream.py`, a raw asyncio HTTP/1.1 keep-alive server returning "
        "precomputed OpenAI-shaped bytes, pinned to one CPU; every client runs pinned to the "
        "other, at nice -10 where permitted.",
        "- Each client runs in a fresh interpreter of its own venv (`bench/.venvs/<name>`, "
        "never a project dependency) through the same protocol (`bench/clients/_common.py`); "
        "the raw floors build the same JSON body and parse the JSON response themselves.",
        f"- Startup: {p['import_runs']} import runs; each runs every client's import, then "
        "every client's cold start, in a fresh interpreter each (order rotated per run), then "
        f"{p['form_pairs']} pairs of plugbay's two import forms, `import plugbay` and "
        "`from plugbay import Client`, alternating "
        f"({p['import_runs'] * p['form_pairs']} processes each).",
        f"- Load: {rounds} interleaved rounds. Round i runs every client once, in the client "
        "list rotated by i, so each client leads in turn and drift over the run hits all "
        f"alike. A client's process gives {p['load_s']:g} s of load in three timed phases "
        f"({phases}): sequential requests (after {p['seq_warmup']} warm-up), streams of "
        f"{p['chunks']} chunks, and requests over {p['conc']} concurrent tasks (after "
        f"{p['conc_warmup']} warm-up). A phase runs until its time is up, so every client is "
        "timed for as long, however fast it is. Over the run each client is timed for "
        f"{rounds * p['load_s']:g} s, in {rounds} separate processes spread over the whole "
        "run rather than one block: a ratio pairs a client with the floor in the same "
        "round, and the [min, max] over rounds shows how far the machine's noise moved it.",
        "- In-process (once per round, in the plugbay venv, `bench/clients/plugbay_micro.py`, "
        f"{p['micro_s']:g} s each; the provider is an in-process plugin that answers at "
        "once): *pipeline overhead*, `acomplete` through a one-target route with the "
        "SQLite ledger on against a direct plugin call (the plugin's `complete` hook awaited "
        "with a ready `Request` and the instance's `ProviderContext`), in alternating blocks "
        "of 50 calls; *cache hit*, the same `acomplete` answered from a `[cache]` of "
        "backend `memory`, then `sqlite` (ledger off), beside the call on a client without "
        "a cache, and checked to never reach the plugin (skipped, with the reason, when "
        "`Client` rejects the config or a repeated call still reaches the plugin); *sync "
        f"stream*, one stream of {p['micro_chunks']} chunks iterated with `client.stream` "
        "against `client.astream` in alternating blocks of 5 streams, per chunk.",
        "- Every figure is kept per round (or per fresh process) and reported as the median "
        "with its range [min, max]. Figures relative to a floor (added latency, per-chunk "
        "overhead, x aiohttp) pair the client with the floor in the same round before the "
        "median is taken. Targets are judged on the median.",
        "- Wall clock and CPU time are both reported and judged. CPU time is the client "
        "process's own (`time.process_time()`: user + system, every thread) over a timed "
        "phase, divided by its requests or chunks; for import and cold start, over the "
        "import or the start. In the in-process measures, the calling thread's CPU time "
        "(`time.thread_time()`) is taken per block and the CPU time of every other thread "
        "(the ledger writer, a cache's) is charged to the side that caused it. Other work "
        "on the machine inflates wall clock far more than CPU time.",
        "- RSS after load is VmRSS right after the throughput phase, which ends the process's "
        "load; peak RSS is VmHWM. Upstream CPU/req is the upstream's own CPU time over the "
        "throughput phase (read from `/bench/stats`) per request it served.",
        "- litellm runs with `LITELLM_LOCAL_MODEL_COST_MAP=True` (this machine has no network; "
        "otherwise its import tries to download a cost map). Its wheel is checked for `.pth` "
        "files before install, and any venv that gains an unexpected `.pth` is removed "
        "(`bench/setup_venvs.sh`); its `certifi>=2026.10.19` floor is relaxed to the newest "
        "certifi the registry serves here (a CA bundle, no code path).",
        f"- Past {p.get('min_rounds', 5)} rounds, a run starts no further round that would "
        f"end more than {p['budget_s']:.0f} s after `bench/run` began; the page says how many "
        "rounds it measured. `bench/run --quick` (2 rounds of 2 s) is a smoke run of the same "
        "pipeline: its page goes to `bench/results/performance-quick.md`.",
        "- Raw results: `bench/results/latest.json` (not committed).",
        "",
    ]
