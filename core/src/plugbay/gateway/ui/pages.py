"""The read-only pages: overview, spend over time, routes and providers, recent calls.
Each reads the ledger through ``Report`` (sums by the database, in a worker thread)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay.gateway.ui.charts import lines
from plugbay.gateway.ui.html import ago, e, money, ms, table, when

if TYPE_CHECKING:
    from plugbay.cost.ledger.report import Report, UsageRow
    from plugbay.gateway.ui.app import View

__all__ = ["calls", "overview", "periods", "routes", "spend"]

GROUPS = ("provider", "model", "key", "agent", "route", "status", "all")
_TOP = 8  # series drawn; the rest are summed as "other"


def periods(now: float) -> dict[str, float]:
    """The starts (UTC) of today, this week (Monday) and this month."""
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(
        hour=0, minute=0, second=0, microsecond=0)
    return {"today": today.timestamp(),
            "this week": (today - dt.timedelta(days=today.weekday())).timestamp(),
            "this month": today.replace(day=1).timestamp()}


async def _usage(report: Report, dim: str, since: float | None, until: float | None = None,
                 bucket: str = "none") -> list[UsageRow]:
    return await asyncio.to_thread(lambda: report.usage(dim, since, until, bucket,
                                                        latency=False))


def _bar(fraction: float) -> str:
    pct = max(0.0, min(fraction, 1.0)) * 100
    tone = "hot" if fraction >= 0.8 else ""
    return f'<div class=bar><i class="{tone}" style="width:{pct:.0f}%"></i></div>'


async def overview(view: View) -> str:
    report, now = view.report, view.clock()
    starts = periods(now)
    cards = []
    for name, since in starts.items():
        rows = await _usage(report, "all", since)
        cards.append(f"<div class=card><span>Spend {e(name)}</span><b>"
                     f"{money(rows[0].cost if rows else 0.0)}</b></div>")
    hour = await asyncio.to_thread(report.latency, now - 3600)
    today = await _usage(report, "all", starts["today"])
    hits = today[0].hits if today else 0
    looked = hits + (today[0].misses if today else 0)
    rate = f"{hits / looked * 100:.1f}%" if looked else "-"
    cards += [f"<div class=card><span>Requests, last hour</span><b>{hour['calls']}</b></div>",
              f"<div class=card><span>Errors, last hour</span><b>{hour['errors']}</b></div>",
              f"<div class=card><span>Latency p50 / p95, last hour</span><b>"
              f"{ms(hour['p50'])} / {ms(hour['p95'])}</b></div>",
              f"<div class=card><span>Cache hit rate today</span><b>{rate}</b></div>"]
    body = [f"<div class=cards>{''.join(cards)}</div>", "<h2>Budgets</h2>"]
    statuses = await view.client.budgets.astatus() if view.client.budgets else []
    body.append(table(("Budget", "Scope", "Period", "Spent", "Limit", "Used", ""),
                      [(e(s.name), e(s.scope), e(s.period), money(s.spent),
                        f"{s.limit:g} {e(s.currency)}", f"{s.fraction * 100:.0f}%",
                        _bar(s.fraction)) for s in statuses], numeric=(3, 4, 5),
                      empty="no budgets configured ([budgets.<name>] in plugbay.toml)"))
    names = await view.key_names()
    for dim, title in (("model", "Top models by spend this month"),
                       ("key", "Top keys by spend this month")):
        rows = sorted(await _usage(report, dim, starts["this month"]),
                      key=lambda r: -r.cost)[:10]
        body.append(f"<h2>{e(title)}</h2>")
        body.append(table((dim.capitalize(), "Calls", "Errors", "Cost"),
                          [(e(names.get(r.value, r.value) if dim == "key" else r.value),
                            str(r.calls), str(r.errors), money(r.cost)) for r in rows],
                          numeric=(1, 2, 3)))
    return "".join(body)


def _day(text: str | None, default: float) -> float:
    if not text:
        return default
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").replace(
            tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return default


async def spend(view: View, query: Mapping[str, str]) -> tuple[str, str | None]:
    """The page, and the CSV when ``format=csv``."""
    now = view.clock()
    by = query.get("by", "provider")
    tag = query.get("tag", "").strip()
    dim = f"tag:{tag}" if by == "tag" and tag else (by if by in GROUPS else "provider")
    bucket = "hour" if query.get("bucket") == "hour" else "day"
    since = _day(query.get("from"), periods(now)["today"] - 13 * 86400)
    until = _day(query.get("to"), periods(now)["today"]) + 86400
    try:
        rows = await _usage(view.report, dim, since, until, bucket)
    except ValueError:
        return "<p class=bad>a tag name is letters, digits, - and _</p>", None
    names = await view.key_names() if dim in ("key", "tag:key") else {}
    label = {r.value: names.get(r.value, r.value) for r in rows}
    if query.get("format") == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["bucket", dim, "calls", "errors", "input_tokens", "output_tokens",
                    "cost", "unpriced"])
        for r in rows:
            w.writerow([when(r.bucket), label[r.value], r.calls, r.errors, r.input_tokens,
                        r.output_tokens, f"{r.cost:.10f}", r.unpriced])
        return "", out.getvalue()
    totals: dict[str, float] = {}
    for r in rows:
        totals[label[r.value]] = totals.get(label[r.value], 0.0) + r.cost
    top = sorted(totals, key=lambda k: -totals[k])[:_TOP]
    series: dict[str, dict[int, float]] = {k: {} for k in top}
    step = 3600 if bucket == "hour" else 86400
    buckets = list(range(int(since // step * step), int(until), step))
    for r in rows:
        name = label[r.value] if label[r.value] in series else "other"
        s = series.setdefault(name, {})
        s[r.bucket] = s.get(r.bucket, 0.0) + r.cost
    options = "".join(f"<option{' selected' if g == by else ''}>{g}</option>"
                      for g in (*GROUPS, "tag"))
    form = (f"<form method=get action=/ui/spend>Group by <select name=by>{options}</select> "
            f"tag <input name=tag size=8 value=\"{e(tag)}\"> per <select name=bucket>"
            f"<option{' selected' if bucket == 'day' else ''}>day</option>"
            f"<option{' selected' if bucket == 'hour' else ''}>hour</option></select> "
            f"from <input type=date name=from value={when(since)[:10]}> to "
            f"<input type=date name=to value={when(until - 86400)[:10]}> "
            "<button>Show</button> <button name=format value=csv>CSV</button></form>")
    head = ("Group", "Calls", "Errors", "Input", "Output", "Cost", "Unpriced")
    sums: dict[str, list[float]] = {}
    for r in rows:
        s2 = sums.setdefault(label[r.value], [0, 0, 0, 0, 0.0, 0])
        for i, v in enumerate((r.calls, r.errors, r.input_tokens, r.output_tokens, r.cost,
                               r.unpriced)):
            s2[i] += v
    body = (form + lines(buckets, series, hourly=bucket == "hour") + "<h2>Totals</h2>"
            + table(head, [(e(k), *(str(int(v)) for v in s[:4]), money(s[4]), str(int(s[5])))
                           for k, s in sorted(sums.items(), key=lambda kv: -kv[1][4])],
                    numeric=range(1, 7), empty="no calls in this range"))
    return body, None


async def routes(view: View) -> str:
    client, report, now = view.client, view.report, view.clock()
    circuits = {c.key: c for c in client.circuits()}
    recent = {t: (n, avg, lo, hi) for t, n, avg, lo, hi in
              await asyncio.to_thread(report.last_calls, 500)}
    rows = []
    for name, route in sorted(client.router.routes.items()):
        for t in route.targets:
            c = circuits.get(t.key)
            state = c.state if c else "closed"
            n, avg, lo, hi = recent.get(t.key, (0, None, None, None))
            rows.append((e(name), e(t.key), f'<span class="{_tone(state)}">{e(state)}</span>',
                         str(c.failures if c else 0), ago(c.retry_in if c else None), str(n),
                         ms(avg), ms(lo), ms(hi), ms(t.state.latency)))
    body = ["<h2>Route targets</h2>", table(
        ("Route", "Target", "Breaker", "Failures", "Half-open", "Last calls", "Mean", "Best",
         "Worst", "EWMA (this worker)"), rows, numeric=range(3, 10),
        empty="no routes configured ([routes.<name>] in plugbay.toml)")]
    others = [c for k, c in sorted(circuits.items())
              if not any(k == t.key for r in client.router.routes.values() for t in r.targets)]
    if others:
        body += ["<h2>Other breakers</h2>", table(
            ("Target", "Breaker", "Failures", "Opened", "Half-open"),
            [(e(c.key), f'<span class="{_tone(c.state)}">{e(c.state)}</span>',
              str(c.failures), str(c.opened), ago(c.retry_in)) for c in others])]
    body += ["<h2>Latency of the last 500 calls, per target</h2>", table(
        ("Target", "Calls", "Mean", "Best", "Worst"),
        [(e(t), str(v[0]), ms(v[1]), ms(v[2]), ms(v[3])) for t, v in sorted(recent.items())],
        numeric=(1, 2, 3, 4))]
    errors = await asyncio.to_thread(report.errors, now - 86400)
    body += ["<h2>Errors in the last 24 hours</h2>", table(
        ("Provider", "Model", "Error class", "Calls"),
        [(e(p), e(m), f"<span class=bad>{e(c)}</span>", str(n)) for p, m, c, n in errors],
        numeric=(3,), empty="no failed calls")]
    body += ["<h2>Plugins</h2>", table(
        ("Plugin", "Distribution", "Version", "State", "Why"),
        [(e(p.name), e(p.distribution), e(p.version),
          f'<span class="{"bad" if p.state == "broken" else "ok"}">{e(p.state)}</span>',
          e(p.error or "")) for p in client.plugins()])]
    return "".join(body)


def _tone(state: str) -> str:
    return {"open": "bad", "half-open": "warn", "half_open": "warn"}.get(state, "ok")


async def calls(view: View, query: Mapping[str, str]) -> str:
    key, model, status = (query.get("key", "").strip(), query.get("model", "").strip(),
                          query.get("status", "").strip())
    before = _cursor(query.get("before", ""))
    page = await asyncio.to_thread(view.report.calls, key=key or None, model=model or None,
                                   status=status or None, before=before, limit=50)
    names = await view.key_names()
    prompts = view.log_prompts
    form = (f"<form method=get action=/ui/calls>Key id <input name=key size=12 "
            f"value=\"{e(key)}\"> model <input name=model size=24 value=\"{e(model)}\" "
            f"placeholder=provider/model> status <select name=status>"
            + "".join(f"<option{' selected' if s == status else ''}>{s}</option>"
                      for s in ("", "ok", "error", "cancelled", "failed"))
            + "</select> <button>Filter</button></form>")
    head = ["Time", "Key", "Model", "Status", "Input", "Output", "Cost", "Latency", "Cache",
            "Request id"] + (["Prompt", "Response"] if prompts else [])
    rows = [(when(c.ts), e(names.get(c.key or "-", c.key)), e(f"{c.provider}/{c.model}"),
             e(c.status if c.error is None else f"{c.status}: {c.error}"),
             str(c.input_tokens), str(c.output_tokens), money(c.cost), ms(c.latency),
             e(c.cache or ""), e(c.request_id or ""),
             *((e((c.prompt or "")[:200]), e((c.response or "")[:200])) if prompts else ()))
            for c in page]
    note = ("" if prompts else "<p class=muted>Prompts are hidden: prompt logging is off "
            "([gateway] log_prompts and [ledger] record_text).</p>")
    more = ""
    if len(page) == 50:
        from urllib.parse import urlencode

        older = urlencode({"key": key, "model": model, "status": status,
                           "before": f"{page[-1].ts!r}:{page[-1].id}"})
        more = f'<p><a href="/ui/calls?{e(older)}" id=older>Older calls</a></p>'
    return form + note + table(head, rows, numeric=(4, 5, 6, 7)) + more


def _cursor(text: str) -> tuple[float, int] | None:
    """``<ts>:<id>`` of the last call on the previous page."""
    ts, _, row = text.partition(":")
    try:
        return float(ts), int(row)
    except ValueError:
        return None


def by_key(rows: list[Any]) -> dict[str, Any]:
    return {r.value: r for r in rows}
