"""Nothing is lost on ``kill -9``: a process makes N calls and kills itself the moment
the last one returns; the next process to open the ledger finds N rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugbay.cost.ledger import Ledger

pytestmark = [pytest.mark.timeout(120)]

CALLER = textwrap.dedent("""
    import asyncio, os, signal, sys
    import plugbay
    from plugbay.types import Completion, Usage

    class Echo:
        name = "echo"

        @plugbay.hookimpl
        async def complete(self, request, provider):
            return Completion(text="hi", model=request.model, provider=provider.name,
                              usage=Usage(input_tokens=3, output_tokens=1))

    url, n = sys.argv[1], int(sys.argv[2])

    async def main():
        client = plugbay.Client({"ledger": {"path": url}, "routing": {"retries": 0}},
                                env={}, plugins=[Echo()])
        for i in range(n):
            await client.acomplete("echo/m", f"call {i}")
        os.kill(os.getpid(), signal.SIGKILL)  # the moment the last call has returned

    asyncio.run(main())
""")


def crash_after(url: str, n: int, home: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", CALLER, url, str(n)], capture_output=True,
                          text=True, timeout=90, env={**os.environ, "HOME": str(home)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


@pytest.mark.parametrize("n", [1, 50, 1000])
def test_sqlite_rows_survive_kill_9(tmp_path: Path, n: int) -> None:
    db = tmp_path / "ledger.db"
    crash_after(str(db), n, tmp_path)
    ledger = Ledger(f"sqlite:///{db}")  # the next start: replays the dead process's rows
    rows = ledger.fetch()
    assert len(rows) == n
    assert len({r.uid for r in rows}) == n
    assert not list(db.with_name("ledger.db.plugbay-journal").glob("*.journal"))
    assert Ledger(f"sqlite:///{db}").count() == n  # and not twice on the start after


def test_postgres_rows_survive_kill_9(tmp_path: Path, postgres_url: str) -> None:
    crash_after(postgres_url, 200, tmp_path)
    # the next start, as the same user (the journal is under the user's data folder)
    count = "import sys; from plugbay.cost.ledger import Ledger; print(Ledger(sys.argv[1]).count())"
    proc = subprocess.run([sys.executable, "-c", count, postgres_url], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) == 200


def test_a_journal_line_reads_back_as_the_same_record() -> None:
    from plugbay.cost.ledger.records import COLUMNS, UsageRecord

    record = UsageRecord(1.5, "openai", "gpt-4o", "smart", 10, 2, 3, 1, 1, 0.25, "EUR", 0.5,
                         0.1, "error", "RateLimitError", True, {"agent": "a"}, "req-1",
                         "p", "r", "hit", 0.5, "u-1")
    assert len(record.row()) == len(COLUMNS)
    assert UsageRecord.from_row(record.row()) == record
    # a segment written before rows were tuples held lists with the tags as a dict
    old = list(record.row())
    old[COLUMNS.index("tags")] = {"agent": "a"}
    assert UsageRecord.from_row(old) == record


def test_a_record_cut_by_the_crash_is_skipped(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A dead process's segment whose last write was cut: the whole rows are written,
    the cut one (its call never returned) is not; an unreadable record is skipped."""
    import marshal
    import struct

    from plugbay.cost.ledger.records import UsageRecord

    db = tmp_path / "ledger.db"
    folder = db.with_name("ledger.db.plugbay-journal")
    folder.mkdir()
    rows = [UsageRecord(1.0 + i, "p", "m", uid=f"dead-{i}").row() for i in range(3)]
    blobs = [marshal.dumps(v) for v in rows]
    bad = b"not marshal"
    data = b"".join(struct.pack("<I", len(b)) + b for b in [*blobs[:2], bad, blobs[2]])
    cut = struct.pack("<I", 500) + b"partial"
    (folder / "999999999-1.journal").write_bytes(data + cut)  # no such process
    ledger = Ledger(f"sqlite:///{db}")
    assert sorted(r.uid or "" for r in ledger.fetch()) == ["dead-0", "dead-1", "dead-2"]
    assert any("skipped record 3" in r.getMessage() for r in caplog.records)
    assert not list(folder.glob("*.journal"))
