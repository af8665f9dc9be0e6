"""The dashboard's HTML: the page frame, tables and money, every value escaped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

__all__ = ["CSS", "ago", "e", "money", "ms", "page", "table", "when"]

NAV = (("/ui", "Overview"), ("/ui/spend", "Spend"), ("/ui/keys", "Keys"),
       ("/ui/routes", "Routes"), ("/ui/calls", "Calls"))

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;
align-items:center}
header a{color:#cfd6e4;text-decoration:none}header a.on{color:#fff;font-weight:600}
header form{margin-left:auto}main{padding:16px 24px;max-width:1200px}
h1{font-size:20px;margin:8px 0 16px}h2{font-size:16px;margin:24px 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;
min-width:150px}.card b{display:block;font-size:22px}.card span{color:#5b6474}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:8px}
th,td{border-bottom:1px solid #e4e7ec;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#e4e7ec;height:8px;border-radius:4px;width:160px}
.bar i{display:block;height:8px;border-radius:4px;background:#3b7ddd}
.bar i.hot{background:#d9534f}.bad{color:#b52b27}.ok{color:#2a7a3b}.warn{color:#a76a00}
form.inline{display:inline}input,select,button{font:inherit;padding:3px 6px}
button{cursor:pointer}.secret{background:#fff8d6;border:1px solid #e6cf6e;padding:12px;
border-radius:6px}.secret code{font-size:15px}.muted{color:#5b6474}
fieldset{border:1px solid #dde1e8;background:#fff;border-radius:6px;margin:8px 0}
svg text{font:11px system-ui,sans-serif;fill:#5b6474}
"""


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def money(value: float | None) -> str:
    """USD: cents above a dollar, millionths below (one call often costs less than a
    cent); ``unknown`` when the price is."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.6f}"


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float | None) -> str:
    return "-" if seconds is None else f"in {seconds:.0f} s"


def table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (),
          empty: str = "nothing yet") -> str:
    """``rows`` are HTML already (escape values with ``e``)."""
    nums = set(numeric)
    body = "".join("<tr>" + "".join(
        f"<td class=n>{c}</td>" if i in nums else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>" for r in rows)
    if not body:
        body = f"<tr><td colspan={len(head)} class=muted>{e(empty)}</td></tr>"
    return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>" + body
            + "</table>")


def page(title: str, here: str, body: str, csrf: str | None) -> str:
    """The frame: navigation (and a logout form when there is a session)."""
    nav = "".join(f'<a href="{href}"{" class=on" if href == here else ""}>{e(name)}</a>'
                  for href, name in NAV)
    logout = (f'<form method=post action="/ui/logout"><input type=hidden name=csrf '
              f'value="{e(csrf)}"><button>Log out</button></form>' if csrf else "")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)} - "
            f"plugbay</title><style>{CSS}</style></head><body><header><b>plugbay</b>{nav}"
            f"{logout}</header><main><h1>{e(title)}</h1>{body}</main></body></html>")
