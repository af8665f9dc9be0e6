"""``plugbay usage`` and ``plugbay budget``: reports from the usage ledger.

``plugbay usage --by model --since 7d --csv`` groups the ledger's rows by day, provider,
model, route, status or a tag (``--by tag:agent``) over a time range; ``--json`` and
``--csv`` print machine-readable rows and ``--chart cost.png`` draws cost over time
(needs matplotlib: ``pip install 'plugbay[chart]'``). ``plugbay budget`` shows each
configured budget's spend in the current period against its limit.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from plugbay.cost.ledger import Ledger, UsageRecord
    from plugbay.cost.ledger.report import Report

__all__ = ["aggregate", "cmd_budget", "cmd_usage", "parse_when", "register", "report_rows"]

_RELATIVE = re.compile(r"^(\d+)([hdw])$")
FIELDS = ["key", "calls", "errors", "input_tokens", "output_tokens", "cached_tokens",
          "reasoning_tokens", "cost", "unpriced", "latency_p50", "cache_hits", "cache_misses",
          "saved"]


class UsageError(Exception):
    """A bad option: the CLI prints it on one line and exits with status 2."""


def parse_when(text: str, *, now: float | None = None) -> float:
    """``2026-11-01``, ``2026-11-01T12:00``, or relative ``12h``, ``7d``, ``2w`` ago (UTC)."""
    from plugbay.errors import ConfigError

    now = dt.datetime.now(dt.timezone.utc).timestamp() if now is None else now
    m = _RELATIVE.match(text.strip())
    if m:
        hours = {"h": 1, "d": 24, "w": 168}[m.group(2)] * int(m.group(1))
        return now - hours * 3600
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{text!r} is not a date (2026-11-01, 2026-11-01T12:00, 7d, 12h)",
                          key="--since/--until") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")


def key_fn(by: str) -> Callable[[UsageRecord], str]:
    from plugbay.errors import ConfigError

    if by == "day":
        return lambda r: _day(r.ts)
    if by == "provider":
        return lambda r: r.provider
    if by == "model":
        return lambda r: f"{r.provider}/{r.model}"
    if by == "route":
        return lambda r: r.route or "-"
    if by == "status":
        return lambda r: r.status if r.error is None else f"{r.status}:{r.error}"
    if by == "key":  # the gateway's virtual key: calls through it carry the tag key=<id>
        return lambda r: (r.tags or {}).get("key", "-")
    if by.startswith("tag:") and len(by) > 4:
        tag = by[4:]
        return lambda r: (r.tags or {}).get(tag, "-")
    raise ConfigError(f"cannot group by {by!r} (day, provider, model, route, status, "
                      "key, tag:<name>)", key="--by")


def aggregate(records: Iterable[UsageRecord], by: str) -> list[dict[str, Any]]:
    """One row per group, sorted by key: calls, errors, tokens, cost, median latency."""
    key = key_fn(by)
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        g = groups.get(key(r))
        if g is None:
            g = groups[key(r)] = {f: 0 for f in FIELDS}
            g.update(key=key(r), cost=0.0, saved=0.0, lat=[])
        g["calls"] += 1
        g["errors"] += r.status == "error"
        g["input_tokens"] += r.input_tokens
        g["output_tokens"] += r.output_tokens
        g["cached_tokens"] += r.cached_tokens
        g["reasoning_tokens"] += r.reasoning_tokens
        if r.cost is None:
            g["unpriced"] += r.status == "ok"
        else:
            g["cost"] += r.cost
        if r.latency is not None and r.status == "ok":
            g["lat"].append(r.latency)
        if r.cache == "hit":  # the response cache answered: cost 0, ``saved`` spared
            g["cache_hits"] += 1
            g["saved"] += r.saved or 0.0
        elif r.cache == "miss" and r.status == "ok":  # one per answered call, as rollup.py
            g["cache_misses"] += 1
    rows = []
    for k in sorted(groups):
        g = groups[k]
        lat = sorted(g.pop("lat"))
        g["latency_p50"] = lat[len(lat) // 2] if lat else None
        g["cost"] = round(g["cost"], 10)
        g["saved"] = round(g["saved"], 10)
        rows.append(g)
    return rows


def _ledger(args: argparse.Namespace) -> Ledger:
    """The ledger to report on; reading never creates one (a typo must not make a file)."""
    from plugbay.cost.ledger import Ledger
    from plugbay.errors import ConfigError

    if args.ledger:
        url = args.ledger if "://" in args.ledger else f"sqlite:///{args.ledger}"
        _must_exist(url)
        return Ledger(url)
    from plugbay.client import Client

    ledger = Client(args.config).ledger
    if ledger is None:
        raise ConfigError("the ledger is off ([ledger] path = \"off\" or PLUGBAY_LEDGER=off)",
                          key="ledger")
    _must_exist(ledger.url)
    return ledger


def _must_exist(url: str) -> None:
    if not url.startswith("sqlite:"):
        return
    from pathlib import Path

    path = Path(url.partition(":///")[2] or url.partition("://")[2]).expanduser()
    if not path.is_file():
        raise UsageError(f"no ledger at {path} (no call has been recorded there; "
                         "check --ledger or [ledger] path)")


def _print_table(rows: list[list[str]], out: TextIO, text_columns: int = 1) -> None:
    """Text columns (the first ``text_columns``) flush left, figures flush right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [c.ljust(w) if i < text_columns else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.write("  ".join(cells).rstrip() + "\n")


def report_rows(report: Report, by: str, since: float | None, until: float | None,
                ) -> list[dict[str, Any]]:
    """``aggregate``'s rows, summed by the database (``cost.ledger.report``); the median
    latency is estimated from the hourly latency histogram."""
    from plugbay.errors import ConfigError

    key_fn(by)  # the same check and message for an unknown --by
    dim = "all" if by == "day" else by
    try:
        rows = report.usage(dim, since, until, "day" if by == "day" else "none")
    except ValueError:
        raise ConfigError(f"cannot group by {by!r} (a tag name is letters, digits, - and _)",
                          key="--by") from None
    return [{"key": _day(r.bucket) if by == "day" else r.value, "calls": r.calls,
             "errors": r.errors, "input_tokens": r.input_tokens,
             "output_tokens": r.output_tokens, "cached_tokens": r.cached_tokens,
             "reasoning_tokens": r.reasoning_tokens, "cost": r.cost, "unpriced": r.unpriced,
             "latency_p50": None if r.latency_p50 is None else round(r.latency_p50, 6),
             "cache_hits": r.hits, "cache_misses": r.misses, "saved": r.saved}
            for r in rows]


def cmd_usage(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.cost.ledger.report import Report

    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until) if args.until else None
    if args.chart:
        _check_chart_path(args.chart)
    ledger = _ledger(args)
    report = Report(ledger.url)
    try:
        ledger.flush()
        rows = report_rows(report, args.by, since, until)
        if args.chart:
            per_day = report_rows(report, "day", since, until) if args.by == "day" else None
            series = _series(report, args.by, since, until) if per_day is None else {
                "cost": {r["key"]: r["cost"] for r in per_day}}
            chart_series(series, args.by, args.chart)
            out.write(f"wrote {args.chart}\n")
        total = report_rows(report, "status", since, until)
    finally:
        report.close()
    if args.json:
        out.write(json.dumps(rows, indent=2) + "\n")
    elif args.csv:
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif not args.chart or rows:
        if not rows:
            out.write("no calls in the ledger for this range\n")
            return 0
        cached = any(r["cache_hits"] or r["cache_misses"] for r in total)
        table = [[args.by.upper(), "CALLS", "ERRORS", "INPUT", "OUTPUT", "CACHED", "REASONING",
                  "COST $", "P50 S"] + (["HITS", "MISSES", "SAVED $"] if cached else [])]
        for r in rows:
            table.append([r["key"], str(r["calls"]), str(r["errors"]), str(r["input_tokens"]),
                          str(r["output_tokens"]), str(r["cached_tokens"]),
                          str(r["reasoning_tokens"]), _money(r["cost"], r["unpriced"]),
                          "-" if r["latency_p50"] is None else f"{r['latency_p50']:.3f}"]
                         + (_cache_cells(r) if cached else []))
        sums = {f: sum(r[f] for r in total) for f in FIELDS if f not in ("key", "latency_p50")}
        table.append(["TOTAL", str(sums["calls"]), str(sums["errors"]),
                      str(sums["input_tokens"]), str(sums["output_tokens"]),
                      str(sums["cached_tokens"]), str(sums["reasoning_tokens"]),
                      _money(sums["cost"], sums["unpriced"]), ""]
                     + (_cache_cells(sums) if cached else []))
        _print_table(table, out)
    return 0


def _series(report: Report, by: str, since: float | None, until: float | None,
            ) -> dict[str, dict[str, float]]:
    """Cost per day per group, summed by the database."""
    dim = {"key": "tag:key"}.get(by, by)
    series: dict[str, dict[str, float]] = {}
    for r in report.usage(dim, since, until, "day"):
        series.setdefault(r.value, {})[_day(r.bucket)] = r.cost
    return series


def _cache_cells(r: dict[str, Any]) -> list[str]:
    """Response-cache hits, misses and the cost the hits saved."""
    return [str(r["cache_hits"]), str(r["cache_misses"]), f"{r['saved']:.6f}"]


def _money(cost: float, unpriced: int) -> str:
    text = f"{cost:.6f}"
    return f"{text} (+{unpriced} unpriced)" if unpriced else text


def _check_chart_path(path: str) -> None:
    """Before reading the ledger: matplotlib is there and the folder exists."""
    from pathlib import Path

    if not _has_matplotlib():
        raise UsageError("--chart needs matplotlib: pip install 'plugbay[chart]'")
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise UsageError(f"--chart {path}: folder {folder} does not exist")


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def chart_series(series: dict[str, dict[str, float]], by: str, path: str) -> None:
    """A PNG of cost per day, one line per group (``series``: group -> day -> cost)."""
    import matplotlib.pyplot as plt

    fig = draw_series(series, by)
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise UsageError(f"cannot write the chart to {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)


def draw(records: list[UsageRecord], by: str) -> Any:
    """``draw_series`` of ``records`` (cost per day per group of ``by``)."""
    key = key_fn(by) if by != "day" else (lambda r: "cost")
    series: dict[str, dict[str, float]] = {}
    for r in records:
        s = series.setdefault(key(r), {})
        s[_day(r.ts)] = s.get(_day(r.ts), 0.0) + (r.cost or 0.0)
    return draw_series(series, by)


def draw_series(series: dict[str, dict[str, float]], by: str) -> Any:
    """The chart's figure: one point per day, the x-axis spanning exactly those days."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    days = sorted({d for s in series.values() for d in s})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = [dt.datetime.fromisoformat(d) for d in days]
    for name in sorted(series):
        ax.plot(x, [series[name].get(d, 0.0) for d in days], marker="o", label=name)  # type: ignore[arg-type]
    if x:  # half a day either side; left alone, one day autoscales to four years
        half = dt.timedelta(hours=12)
        ax.set_xlim(x[0] - half, x[-1] + half)  # type: ignore[arg-type]
    if len(x) <= 12:
        ax.set_xticks(x)  # type: ignore[arg-type]
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=1, maxticks=12))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    ax.set_ylim(bottom=0)
    ax.set_ylabel("cost (USD)")
    ax.set_title(f"plugbay cost per day{'' if by == 'day' else f' by {by}'}")
    if len(series) > 1:
        ax.legend(fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def cmd_budget(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.client import Client

    client = Client(args.config)
    try:
        budgets = client.budgets
        if budgets is None:
            out.write("no budgets configured (add [budgets.<name>] to plugbay.toml)\n")
            return 0
        statuses = asyncio.run(budgets.astatus())
    finally:
        client.close()
    if args.json:
        out.write(json.dumps([{**s.__dict__, "fraction": s.fraction} for s in statuses],
                             indent=2) + "\n")
        return 0
    table = [["BUDGET", "SCOPE", "PERIOD", "MODE", "SPENT", "LIMIT", "USED"]]
    for s in statuses:
        table.append([s.name, s.scope, s.period, s.mode, f"{s.spent:.6f}",
                      f"{s.limit:g} {s.currency}", f"{s.fraction * 100:.0f}%"])
    _print_table(table, out, text_columns=4)
    return 0


def _wrap(fn: Callable[[argparse.Namespace, TextIO], int],
          ) -> Callable[[argparse.Namespace, TextIO], int]:
    def run(args: argparse.Namespace, out: TextIO) -> int:
        try:
            return fn(args, out)
        except UsageError as exc:
            from plugbay.errors import ConfigError

            raise ConfigError(str(exc)) from None
    return run


def register(sub: Any) -> None:
    """Add ``usage`` and ``budget`` to the ``plugbay`` command's subcommands
    (cli.EXTRA_COMMANDS)."""
    p = sub.add_parser("usage", help="usage and cost from the ledger, grouped")
    p.add_argument("--by", default="day",
                   help="day (default), provider, model, route, status, key (the "
                        "gateway's virtual keys) or tag:<name>")
    p.add_argument("--since", help="from: 2026-11-01, 2026-11-01T12:00, 7d, 12h (UTC)")
    p.add_argument("--until", help="until (exclusive), same forms")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.add_argument("--chart", metavar="FILE.png", help="draw cost over time (matplotlib)")
    p.add_argument("--ledger", help="a ledger path or URL (default: from the config)")
    p.set_defaults(func=_wrap(cmd_usage))
    p = sub.add_parser("budget", help="each budget's spend against its limit")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_wrap(cmd_budget))
