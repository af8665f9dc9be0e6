"""Schema migrations for the SQL ledger backends. Each step only adds: old rows stay.

``plugbay_schema`` holds one row with the version. A database newer than this code
is refused rather than written to with the wrong columns.
"""

from __future__ import annotations

from typing import Any, Literal

from plugbay.cost.ledger.rollup import rollup_schema

__all__ = ["LATEST", "MIGRATIONS", "migrate", "version_of"]

Dialect = Literal["sqlite", "postgres"]

_V1_SQLITE = """CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    route TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    latency REAL,
    status TEXT NOT NULL DEFAULT 'ok',
    error TEXT
)"""

_V1_POSTGRES = """CREATE TABLE IF NOT EXISTS calls (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    route TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost DOUBLE PRECISION,
    latency DOUBLE PRECISION,
    status TEXT NOT NULL DEFAULT 'ok',
    error TEXT
)"""

# v2: cache writes, currency, time to first token, stream flag, tags, request id, and
# the opt-in prompt/response text; an index for the time-range reports.
_V2_COLUMNS = {
    "sqlite": ["cache_write_tokens INTEGER NOT NULL DEFAULT 0",
               "currency TEXT NOT NULL DEFAULT 'USD'", "ttft REAL",
               "stream INTEGER NOT NULL DEFAULT 0", "tags TEXT", "request_id TEXT",
               "prompt TEXT", "response TEXT"],
    "postgres": ["cache_write_tokens BIGINT NOT NULL DEFAULT 0",
                 "currency TEXT NOT NULL DEFAULT 'USD'", "ttft DOUBLE PRECISION",
                 "stream BOOLEAN NOT NULL DEFAULT FALSE", "tags TEXT", "request_id TEXT",
                 "prompt TEXT", "response TEXT"],
}

# v3: the response cache: "hit" or "miss" (NULL when no cache saw the call), and on a
# hit the cost the cached answer saved; a unique id per row, so that a row replayed from
# the crash journal after it was already written is written once.
_V3_COLUMNS = {"sqlite": ["cache TEXT", "saved REAL", "uid TEXT"],
               "postgres": ["cache TEXT", "saved DOUBLE PRECISION", "uid TEXT"]}

# v4: the dashboard's reads (``rollup.py``, ``report.py``): hourly sums per dimension,
# and failed calls by time (a partial index: a row that succeeds costs it nothing). A key
# or a model is found through the hourly sums (which hours hold it), not an index of its
# own: an index on the key tag would double the writer's cost per row (3 us of 6).
_V4 = {d: [*rollup_schema(d),
           "CREATE INDEX IF NOT EXISTS calls_failed ON calls (ts) WHERE status <> 'ok'"]
       for d in ("sqlite", "postgres")}

MIGRATIONS: dict[int, dict[str, list[str]]] = {
    1: {"sqlite": [_V1_SQLITE], "postgres": [_V1_POSTGRES]},
    2: {d: [f"ALTER TABLE calls ADD COLUMN {c}" for c in cols]
        + ["CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts)"]
        for d, cols in _V2_COLUMNS.items()},
    3: {d: [f"ALTER TABLE calls ADD COLUMN {c}" for c in cols]
        + ["CREATE UNIQUE INDEX IF NOT EXISTS calls_uid ON calls (uid)"]
        for d, cols in _V3_COLUMNS.items()},
    4: _V4,
}
LATEST = max(MIGRATIONS)


def version_of(cur: Any) -> int:
    """The schema version (0: an empty database). ``cur`` is a DB-API cursor."""
    cur.execute("CREATE TABLE IF NOT EXISTS plugbay_schema (version INTEGER NOT NULL)")
    cur.execute("SELECT version FROM plugbay_schema")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def migrate(conn: Any, dialect: Dialect, target: int = LATEST) -> int:
    """Bring the database to ``target``, one committed step at a time; returns the
    version reached. ``conn`` is a DB-API connection (sqlite3 or psycopg)."""
    from plugbay.errors import ConfigError

    cur = conn.cursor()
    current = version_of(cur)
    if current > LATEST:
        raise ConfigError(f"the ledger database has schema v{current}, newer than this "
                          f"plugbay (v{LATEST}); upgrade plugbay", key="ledger")
    for version in range(current + 1, target + 1):
        for statement in MIGRATIONS[version][dialect]:
            cur.execute(statement)
        cur.execute("DELETE FROM plugbay_schema")
        cur.execute(f"INSERT INTO plugbay_schema (version) VALUES ({version})")
        conn.commit()
        current = version
    conn.commit()
    return current
