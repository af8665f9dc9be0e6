"""Hourly sums of the ledger, per dimension, so that reports over a million rows read
thousands: ``calls_hourly`` holds, for each closed hour and each value of each
dimension (all calls, provider, model, route, the gateway's key, the agent tag,
status), the calls, errors, tokens, cost, cache hits and a latency histogram.

The table is kept by ``refresh``, run by the readers (``report.Report``), never by the
writer thread, so writing a call costs nothing more. A refresh sums the hours that
closed ``SETTLE`` seconds ago or more; it also sums again any hour that received a row
after it was summed (a row replayed from the crash journal, say), found by row id. The
hours not yet summed are read from the ``calls`` rows themselves (a few thousand at
most, through the ``ts`` index). One refresh runs at a time: an immediate transaction
on SQLite, an advisory lock on PostgreSQL; each hour is deleted and summed again in
the same transaction, so a refresh is idempotent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DIMENSIONS", "EDGES", "SETTLE", "aggregates", "json_field", "quantile",
           "refresh", "rollup_schema", "sums", "value_of"]

SETTLE = 120.0  # seconds after its end an hour is summed (late batches land first)
HOUR = 3600
# Latency histogram upper edges (seconds): the rollup keeps how many calls took at
# most each, so a percentile is known to within its bucket.
EDGES = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0)
DIMENSIONS = ("all", "provider", "model", "route", "status")  # and every tag: tag:<name>
_SUMS = ("calls", "errors", "input_tokens", "output_tokens", "cached_tokens",
         "reasoning_tokens", "cost", "unpriced", "hits", "misses", "saved", "lat_n",
         *(f"le{i}" for i in range(len(EDGES))))
_LOCK_ID = 7170017  # the ledger's migrations use 7170001, the keys 7170014


def json_field(dialect: str, name: str) -> str:
    """The SQL for tag ``name`` of a row."""
    if dialect == "sqlite":
        return f"json_extract(tags, '$.{name}')"
    return f"((tags::jsonb) ->> '{name}')"


def rollup_schema(dialect: str) -> list[str]:
    real = "REAL" if dialect == "sqlite" else "DOUBLE PRECISION"
    ints = ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in _SUMS
                     if c not in ("cost", "saved"))
    return [f"""CREATE TABLE IF NOT EXISTS calls_hourly (
    dim TEXT NOT NULL, hour BIGINT NOT NULL, value TEXT NOT NULL,
    cost {real} NOT NULL DEFAULT 0, saved {real} NOT NULL DEFAULT 0, {ints},
    PRIMARY KEY (dim, hour, value))""",
            "CREATE INDEX IF NOT EXISTS calls_hourly_value ON calls_hourly "
            "(dim, value, hour)",  # the hours that hold a key or a model, newest first
            "CREATE TABLE IF NOT EXISTS calls_rollup (rolled BIGINT NOT NULL, "
            "seen BIGINT NOT NULL)"]


def value_of(dialect: str, dim: str) -> str:
    """The SQL for a row's value in ``dim`` (or in ``tag:<name>``, read from rows only)."""
    if dim == "all":
        return "''"
    if dim == "provider":
        return "provider"
    if dim == "model":
        return "provider || '/' || model"
    if dim == "route":
        return "COALESCE(route, '-')"
    if dim == "status":
        return "CASE WHEN error IS NULL THEN status ELSE status || ':' || error END"
    name = dim[4:]
    if not dim.startswith("tag:") or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"no dimension {dim!r}")
    return f"COALESCE({json_field(dialect, name)}, '-')"


def aggregates() -> list[str]:
    """Each of ``_SUMS`` over ``calls`` rows, as SQL, in order."""
    ok = "status = 'ok'"
    out = ["COUNT(*)", "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
           *(f"SUM({c})" for c in ("input_tokens", "output_tokens", "cached_tokens",
                                   "reasoning_tokens")),
           "COALESCE(SUM(cost), 0)",
           f"SUM(CASE WHEN cost IS NULL AND {ok} THEN 1 ELSE 0 END)",
           "SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END)",
           # a miss is an answered call: a failed-over call's failed attempts are rows
           # (and errors) of their own, not more misses
           f"SUM(CASE WHEN cache = 'miss' AND {ok} THEN 1 ELSE 0 END)",
           "COALESCE(SUM(CASE WHEN cache = 'hit' THEN saved END), 0)",
           f"SUM(CASE WHEN {ok} AND latency IS NOT NULL THEN 1 ELSE 0 END)"]
    out += [f"SUM(CASE WHEN {ok} AND latency <= {e!r} THEN 1 ELSE 0 END)" for e in EDGES]
    return out


def sums() -> tuple[str, ...]:
    return _SUMS


def quantile(q: float, n: int, cumulative: list[int]) -> float | None:
    """The ``q`` quantile of ``n`` latencies from the histogram's cumulative counts,
    interpolated inside its bucket; past the last edge, the last edge."""
    if n <= 0:
        return None
    rank = q * n
    low, below = 0.0, 0
    for edge, count in zip(EDGES, cumulative, strict=True):
        if count >= rank and count > below:
            return low + (edge - low) * (rank - below) / (count - below)
        low, below = edge, count
    return EDGES[-1]


def _floor(ts: float) -> int:
    return int(ts // HOUR) * HOUR


def _sum_hours(cur: Any, dialect: str, mark: str, start: int, end: int) -> None:
    """Sum ``[start, end)`` again, every dimension (the hours are deleted first)."""
    hour = ("CAST(ts / 3600 AS INTEGER) * 3600" if dialect == "sqlite"
            else "(floor(ts / 3600) * 3600)::bigint")
    cur.execute(f"DELETE FROM calls_hourly WHERE hour >= {mark} AND hour < {mark}",
                (start, end))
    columns = ", ".join(_SUMS)
    aggs = ", ".join(aggregates())
    insert = f"INSERT INTO calls_hourly (dim, hour, value, {columns}) "
    for dim in DIMENSIONS:
        cur.execute(f"{insert} SELECT '{dim}', {hour}, {value_of(dialect, dim)}, {aggs} "
                    f"FROM calls WHERE ts >= {mark} AND ts < {mark} GROUP BY 2, 3",
                    (start, end))
    # Every tag of every row: dim tag:<name>. Calls without the tag are not summed
    # here; a report counts them as all calls less those with a value.
    pairs = ("json_each(calls.tags) AS j" if dialect == "sqlite"
             else "jsonb_each_text(calls.tags::jsonb) AS j")
    cur.execute(f"{insert} SELECT 'tag:' || j.key, {hour}, j.value, {aggs} FROM calls, "
                f"{pairs} WHERE calls.tags IS NOT NULL AND ts >= {mark} AND ts < {mark} "
                "GROUP BY 1, 2, 3", (start, end))


def refresh(conn: Any, dialect: str, now: float) -> int:
    """Sum what is due; returns the hour up to which ``calls_hourly`` is complete.
    ``conn``: an autocommit DB-API connection (its transactions are this one's own).
    A long backlog (the first refresh of an old ledger) is summed ``STEP`` rows per
    transaction, so that SQLite's writer never waits on it for more than a moment."""
    mark = "?" if dialect == "sqlite" else "%s"
    target = _floor(now - SETTLE)
    cur = conn.cursor()
    cur.execute("SELECT rolled, seen FROM calls_rollup")
    row = cur.fetchone()
    if row is not None:
        rolled, seen = int(row[0]), int(row[1])
        cur.execute(f"SELECT 1 FROM calls WHERE id > {mark} AND ts < {mark} LIMIT 1",
                    (seen, max(rolled, target)))
        if cur.fetchone() is None:
            return rolled  # nothing new in the summed hours nor any hour to add
    while True:
        rolled, done = _step(cur, dialect, mark, target)
        if done:
            return rolled


STEP = 50_000  # rows summed per transaction, about a second on SQLite


def _step(cur: Any, dialect: str, mark: str, target: int) -> tuple[int, bool]:
    """One transaction: the late rows' hours, then up to ``STEP`` rows of new hours.
    Returns the hour summed up to and whether that is ``target``."""
    cur.execute("BEGIN IMMEDIATE" if dialect == "sqlite" else "BEGIN")
    try:
        if dialect == "postgres":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        cur.execute("SELECT rolled, seen FROM calls_rollup")
        row = cur.fetchone()
        cur.execute("SELECT COALESCE(MAX(id), 0), MIN(ts) FROM calls")
        top, first = cur.fetchone()
        if row is None:
            rolled, seen = (_floor(first) if first is not None else target), 0
        else:
            rolled, seen = int(row[0]), int(row[1])
        hour = ("CAST(ts / 3600 AS INTEGER) * 3600" if dialect == "sqlite"
                else "(floor(ts / 3600) * 3600)::bigint")
        cur.execute(f"SELECT DISTINCT {hour} FROM calls WHERE id > {mark} AND id <= {mark} "
                    f"AND ts < {mark}", (seen, top, rolled))
        for (late,) in cur.fetchall():  # rows that came after their hour was summed
            _sum_hours(cur, dialect, mark, int(late), int(late) + HOUR)
        if target > rolled:
            cur.execute(f"SELECT ts FROM calls WHERE ts >= {mark} AND ts < {mark} "
                        f"ORDER BY ts LIMIT 1 OFFSET {STEP}", (rolled, target))
            far = cur.fetchone()
            end = target if far is None else min(target, _floor(float(far[0])) + HOUR)
            _sum_hours(cur, dialect, mark, rolled, end)
            rolled = end
        # rows up to ``top`` are summed when their hour is below ``rolled``; those above
        # are summed by the steps to come
        cur.execute("DELETE FROM calls_rollup")
        cur.execute(f"INSERT INTO calls_rollup (rolled, seen) VALUES ({mark}, {mark})",
                    (rolled, int(top)))
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    return rolled, rolled >= target
