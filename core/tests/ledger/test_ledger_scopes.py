"""Budget carry-over sums the ledger in SQL per scope: the sums equal what the budgets'
own matching says, on SQLite and on PostgreSQL, tags with awkward characters included."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from plugbay.cost.budgets.spec import parse_budgets
from plugbay.cost.ledger import Ledger, UsageRecord

SCOPES = ["global", "provider:openai", "provider:a_b", "model:openai/gpt-4o",
          "model:a_b/m%1", "route:smart", "tag:agent=pricing", "tag:agent=pric",
          "tag:team=a%b_c", 'tag:q=say "hi"', "tag:back=sl\\ash"]


def fill(ledger: Ledger) -> list[UsageRecord]:
    rnd = random.Random(3)
    records = []
    for i in range(400):
        tags = rnd.choice([None, {"agent": "pricing"}, {"agent": "pricing", "team": "a%b_c"},
                           {"agent": "pricingX"}, {"team": "aXb_c"}, {"q": 'say "hi"'},
                           {"back": "sl\\ash"}, {"x": '"agent": "pricing"'}])
        records.append(UsageRecord(
            ts=1_800_000_000 + i, provider=rnd.choice(["openai", "a_b", "aXb"]),
            model=rnd.choice(["gpt-4o", "m%1", "m1"]), route=rnd.choice([None, "smart"]),
            cost=rnd.choice([None, round(rnd.uniform(0, 1), 6)]), tags=tags))
    for r in records:
        ledger.record(r)
    ledger.flush()
    return records


def check(ledger: Ledger, records: list[UsageRecord]) -> None:
    since = 1_800_000_100
    for scope in SCOPES:
        (budget,), _ = parse_budgets({"b": {"scope": scope, "limit": 1}})
        expected = sum(r.cost or 0 for r in records if r.ts >= since
                       and budget.applies(r.provider, r.model, r.route, r.tags))
        assert ledger.spent(since, budget.kind, budget.match) == pytest.approx(expected), scope


def test_scope_sums_sqlite(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 's.db'}")
    check(ledger, fill(ledger))


def test_scope_sums_postgres(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    check(ledger, fill(ledger))
