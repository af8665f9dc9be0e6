"""Reports from the ledger, summed by the database: ``plugbay usage`` and the gateway's
dashboard read through here, and never group rows in Python.

``Report(url).usage(dim, since, until, bucket)`` gives one row per (time bucket, value
of ``dim``), read from the hourly sums (``rollup.py``) for the whole hours of the range
and from the rows themselves for the rest (the partial hours at either end, and the
hours not summed yet). ``tag:<name>`` dimensions other than key and agent have no
hourly sums and are read from the rows (through the ``ts`` index).

Also: latency percentiles of a recent window, the recent calls (paged by id, filtered
by key, model and status through their indexes), recent error classes, and the latency
of the last calls per target.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from plugbay.cost.ledger import rollup
from plugbay.cost.ledger.reconnect import Reconnecting
from plugbay.cost.ledger.rollup import EDGES, HOUR, quantile, sums, value_of

__all__ = ["Call", "Report", "UsageRow"]

T = TypeVar("T")
_REFRESH_EVERY = 5.0  # seconds between two looks for hours to sum


@dataclass
class UsageRow:
    bucket: int  # the bucket's start (Unix time; 0 when not bucketed)
    value: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: float
    unpriced: int
    hits: int
    misses: int
    saved: float
    latency_p50: float | None  # estimated from the histogram (``rollup.EDGES``)
    latency_p95: float | None


@dataclass
class Call:
    id: int
    ts: float
    provider: str
    model: str
    route: str | None
    key: str | None
    status: str
    error: str | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    latency: float | None
    cache: str | None
    request_id: str | None
    prompt: str | None
    response: str | None


class Report:
    """Read-only reports over the ledger at ``url`` (its own connection)."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        from plugbay.cost.ledger import open_backend

        open_backend(url).close()  # created and migrated, as a writer would
        self.url = url
        self.clock = clock
        self.dialect = "sqlite" if url.partition("://")[0].lower() == "sqlite" else "postgres"
        self.mark = "?" if self.dialect == "sqlite" else "%s"
        self._db = Reconnecting(self._connect, self.dialect)
        self._rolled: int | None = None
        self._checked = -math.inf

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            import sqlite3

            path = self.url.partition(":///")[2] or self.url.partition("://")[2]
            conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False,
                                   isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def _run(self, fn: Callable[[Any], T]) -> T:
        """``fn(cursor)``, once more on a new connection when a PostgreSQL connection was
        lost (a restart must not leave the dashboard failing until it restarts)."""
        return self._db.run(lambda conn: fn(conn.cursor()))

    def refresh(self, force: bool = False) -> int:
        """Sum the hours that are due (at most every few seconds unless ``force``)."""
        now = self.clock()
        if force or self._rolled is None or now - self._checked >= _REFRESH_EVERY:
            self._rolled = self._db.run(lambda conn: rollup.refresh(conn, self.dialect, now))
            self._checked = now
        return self._rolled

    # ------------------------------------------------------------ usage

    def usage(self, dim: str, since: float | None = None, until: float | None = None,
              bucket: str = "none", *, latency: bool = True) -> list[UsageRow]:
        """Sums per (``bucket``: none, hour or day) and value of ``dim`` (``all``,
        provider, model, route, key, agent, status or ``tag:<name>``) over
        ``[since, until)``, ordered by bucket then value. ``latency=False`` leaves the
        histogram out (its percentiles are ``None``), which halves the work."""
        if bucket not in ("none", "hour", "day"):
            raise ValueError(f"no bucket {bucket!r} (none, hour, day)")
        dim = {"key": "tag:key", "agent": "tag:agent"}.get(dim, dim)
        value = value_of(self.dialect, dim)  # raises on an unknown dimension
        rolled = self.refresh()
        m = self.mark
        names = sums()
        kept = [latency or not (c == "lat_n" or c.startswith("le")) for c in names]
        cols = ", ".join(c if k else f"0 AS {c}" for c, k in zip(names, kept, strict=True))
        total = ", ".join(f"SUM({c}) AS {c}" if k else f"0 AS {c}"
                          for c, k in zip(names, kept, strict=True))
        head, parts, args = "", [], []
        lo = 0 if since is None else math.ceil(since / HOUR) * HOUR
        hi = rolled if until is None else min(rolled, int(until // HOUR) * HOUR)
        raw: list[tuple[float | None, float | None]] = [(since, until)]
        if lo < hi:
            b = self._bucket("hour", bucket)
            hourly = f"FROM calls_hourly WHERE dim = {m} AND hour >= {m} AND hour < {m}"
            if dim.startswith("tag:"):
                # Calls without the tag: all calls less those with a value, the tag's
                # sums read once (materialized) for both.
                head = (f"WITH t AS MATERIALIZED (SELECT {b} AS b, value AS v, {total} "
                        f"{hourly} GROUP BY 1, 2) ")
                negated = ", ".join(f"-SUM({c})" if k else "0"
                                    for c, k in zip(names, kept, strict=True))
                parts += [f"SELECT b, v, {', '.join(names)} FROM t",
                          f"SELECT {b} AS b, '-' AS v, {cols} {hourly}",
                          f"SELECT b, '-' AS v, {negated} FROM t GROUP BY b"]
                args += [dim, lo, hi, "all", lo, hi]
            else:
                parts.append(f"SELECT {b} AS b, value AS v, {cols} {hourly}")
                args += [dim, lo, hi]
            raw = [(since, lo), (hi, until)]
        for start, end in raw:
            where = [f"ts >= {m}" for _ in [start] if start is not None]
            where += [f"ts < {m}" for _ in [end] if end is not None]
            if start is not None and end is not None and start >= end:
                continue
            aggs = ", ".join(f"{a} AS {c}" if k else f"0 AS {c}" for a, c, k in
                             zip(rollup.aggregates(), names, kept, strict=True))
            parts.append(f"SELECT {self._bucket('ts', bucket)} AS b, {value} AS v, {aggs} "
                         f"FROM calls{' WHERE ' + ' AND '.join(where) if where else ''} "
                         "GROUP BY 1, 2")
            args += [x for x in (start, end) if x is not None]
        if not parts:
            return []
        outer = ", ".join(f"SUM({c})" if k else "0" for c, k in zip(names, kept, strict=True))
        sql = (f"{head}SELECT b, v, {outer} FROM ({' UNION ALL '.join(parts)}) AS u "
               "GROUP BY b, v HAVING SUM(calls) > 0 ORDER BY b, v")

        def go(cur: Any) -> list[UsageRow]:
            cur.execute(sql, args)
            return [_usage_row(r) for r in cur.fetchall()]
        return self._run(go)

    def _bucket(self, column: str, bucket: str) -> str:
        if bucket == "none":
            return "0"
        size = HOUR if bucket == "hour" else 86400
        if column == "hour":
            return f"(hour / {size}) * {size}"
        if self.dialect == "sqlite":
            return f"CAST(ts / {size} AS INTEGER) * {size}"
        return f"(floor(ts / {size}) * {size})::bigint"

    # ------------------------------------------------------------ recent rows

    def latency(self, since: float) -> dict[str, Any]:
        """Calls, errors and exact p50/p95 latency of successful calls since ``since``
        (a recent window: read through the ``ts`` index, sorted by the database)."""
        m = self.mark

        def go(cur: Any) -> dict[str, Any]:
            cur.execute("SELECT COUNT(*), SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN status = 'ok' AND latency IS NOT NULL THEN 1 ELSE 0 "
                        f"END) FROM calls WHERE ts >= {m}", (since,))
            calls, errs, n = cur.fetchone()
            out: dict[str, Any] = {"calls": int(calls or 0), "errors": int(errs or 0),
                                   "p50": None, "p95": None}
            for name, q in (("p50", 0.5), ("p95", 0.95)):
                if n:
                    cur.execute(f"SELECT latency FROM calls WHERE ts >= {m} AND status = "
                                "'ok' AND latency IS NOT NULL ORDER BY latency "
                                f"LIMIT 1 OFFSET {m}", (since, min(int(q * n), n - 1)))
                    out[name] = float(cur.fetchone()[0])
            return out
        return self._run(go)

    def calls(self, *, key: str | None = None, model: str | None = None,
              status: str | None = None, before: tuple[float, int] | None = None,
              limit: int = 50) -> list[Call]:
        """The newest calls, filtered, ``limit`` of them from ``before`` (the ``(ts, id)``
        of the last call of the previous page). Unfiltered or by status, through the
        ``ts`` index (failed calls: its partial index); by key or ``provider/model``, the
        hourly sums say which hours hold it, and only those hours' rows are read."""
        m, limit = self.mark, int(limit)
        where: list[str] = []
        args: list[Any] = []
        if key:
            where.append(f"{rollup.json_field(self.dialect, 'key')} = {m}")
            args.append(key)
        provider, _, name = (model or "").rpartition("/")
        if model:
            where.append(f"model = {m}")
            args.append(name)
            if provider:
                where.append(f"provider = {m}")
                args.append(provider)
        if status:
            where.append("status <> 'ok'")  # the partial index's own condition
            if status != "failed":
                where.append(f"status = {m}")
                args.append(status)
        if before is not None:
            where.append(f"(ts < {m} OR (ts = {m} AND id < {m}))")
            args += [before[0], before[0], before[1]]
        select = ("SELECT id, ts, provider, model, route, "
                  f"{rollup.json_field(self.dialect, 'key')}, status, error, input_tokens, "
                  "output_tokens, cost, latency, cache, request_id, prompt, response "
                  "FROM calls WHERE ")
        order = " ORDER BY ts DESC, id DESC LIMIT "

        def rows(cur: Any, extra: str, more: list[Any], n: int) -> list[Call]:
            cur.execute(select + " AND ".join([*where, extra]) + order + str(n),
                        [*args, *more])
            return [Call(*r) for r in cur.fetchall()]

        lookup = (("tag:key", key) if key else ("model", model) if provider else None)
        if lookup is None:
            return self._run(lambda cur: rows(cur, "1 = 1", [], limit))
        rolled = self.refresh()
        top = math.inf if before is None else before[0]

        def walk(cur: Any) -> list[Call]:
            found = rows(cur, f"ts >= {m}", [rolled], limit)  # the hours not summed yet
            cur.execute(f"SELECT hour FROM calls_hourly WHERE dim = {m} AND value = {m} "
                        f"AND hour < {m} AND hour <= {m} ORDER BY hour DESC",
                        (*lookup, rolled, top if before is not None else rolled))
            for (hour,) in cur.fetchall():
                if len(found) >= limit:
                    break
                found += rows(cur, f"ts >= {m} AND ts < {m}", [hour, hour + HOUR],
                              limit - len(found))
            return found
        return self._run(walk)

    def errors(self, since: float, limit: int = 20) -> list[tuple[str, str, str, int]]:
        """(provider, model, error class, count) of failed calls since ``since``."""
        m = self.mark

        def go(cur: Any) -> list[tuple[str, str, str, int]]:
            cur.execute("SELECT provider, model, COALESCE(error, status), COUNT(*) FROM calls "
                        f"WHERE ts >= {m} AND status <> 'ok' GROUP BY 1, 2, 3 "
                        f"ORDER BY 4 DESC LIMIT {int(limit)}", (since,))
            return [(str(a), str(b), str(c), int(d)) for a, b, c, d in cur.fetchall()]
        return self._run(go)

    def last_calls(self, n: int = 500) -> list[tuple[str, int, float | None, float | None,
                                                      float | None]]:
        """Per ``provider/model`` among the last ``n`` calls (read by id): calls, and
        the mean, best and worst latency."""
        def go(cur: Any) -> list[tuple[str, int, float | None, float | None, float | None]]:
            cur.execute("SELECT provider || '/' || model, COUNT(*), AVG(latency), "
                        "MIN(latency), MAX(latency) FROM (SELECT provider, model, latency "
                        f"FROM calls ORDER BY id DESC LIMIT {int(n)}) AS recent "
                        "GROUP BY 1 ORDER BY 1")
            return [(str(t), int(c), _f(a), _f(lo), _f(hi))
                    for t, c, a, lo, hi in cur.fetchall()]
        return self._run(go)

    def close(self) -> None:
        self._db.close()


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _usage_row(r: Sequence[Any]) -> UsageRow:
    named = dict(zip(sums(), r[2:], strict=True))
    n = int(named["lat_n"] or 0)
    cumulative = [int(named[f"le{i}"] or 0) for i in range(len(EDGES))]
    return UsageRow(bucket=int(r[0]), value=str(r[1]), calls=int(named["calls"]),
                    errors=int(named["errors"] or 0),
                    input_tokens=int(named["input_tokens"] or 0),
                    output_tokens=int(named["output_tokens"] or 0),
                    cached_tokens=int(named["cached_tokens"] or 0),
                    reasoning_tokens=int(named["reasoning_tokens"] or 0),
                    cost=round(float(named["cost"] or 0.0), 10),
                    unpriced=int(named["unpriced"] or 0), hits=int(named["hits"] or 0),
                    misses=int(named["misses"] or 0),
                    saved=round(float(named["saved"] or 0.0), 10),
                    latency_p50=quantile(0.5, n, cumulative),
                    latency_p95=quantile(0.95, n, cumulative))


def day_of(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")
