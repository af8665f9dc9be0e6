"""``plugbay batch`` as a real process against a fake upstream on 127.0.0.1: killed with
SIGKILL part way and rerun, interrupted with Ctrl-C, under a 429-heavy upstream with an
RPM cap, with malformed lines, and stopped by a budget."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plugbay.cost.ledger import Ledger
from plugbay.testing.server import FakeServer, Reply

from .conftest import (
    COST,
    Upstream,
    child_env,
    error,
    read_output,
    request_line,
    write_config,
    write_requests,
)

pytestmark = [pytest.mark.timeout(240)]


def batch_cmd(cfg: Path, req: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "plugbay.cli", "--config", str(cfg), "batch", str(req),
            "-o", str(out), "--no-progress", *extra]


def run(cmd: list[str], home: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=child_env(home), cwd=home)


def whole_lines(path: Path) -> list[dict[str, Any]]:
    """The lines a crash left whole (a torn last line is not counted)."""
    if not path.exists():
        return []
    text = path.read_bytes().decode()
    return [json.loads(x) for x in text[:text.rfind("\n") + 1].splitlines() if x.strip()]


def start_until(cmd: list[str], home: Path, out: Path, lines: int) -> subprocess.Popen[str]:
    """Start ``cmd`` and return once ``out`` holds at least ``lines`` lines."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(home), cwd=home)
    deadline = time.monotonic() + 120  # a guard against a hang, not a measured time
    while not out.exists() or out.read_bytes().count(b"\n") < lines:
        if proc.poll() is not None:
            pytest.fail(f"batch ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("batch wrote too little")
        time.sleep(0.01)
    return proc


def ledger_rows(tmp: Path) -> tuple[Counter[str], dict[str, float]]:
    """custom_id -> ok ledger rows, and -> their summed cost (opening the ledger replays
    a dead process's journal: what the next run would find)."""
    ledger = Ledger(f"sqlite:///{tmp / 'ledger.db'}")
    try:
        rows = [r for r in ledger.fetch() if r.status == "ok"]
    finally:
        ledger.close()
    cost: dict[str, float] = {}
    for r in rows:
        cid = (r.tags or {})["custom_id"]
        cost[cid] = cost.get(cid, 0.0) + (r.cost or 0.0)
    return Counter((r.tags or {})["custom_id"] for r in rows), cost


def test_sigkill_part_way_then_rerun_writes_and_pays_each_id_once(srv: FakeServer,
                                                                  tmp_path: Path) -> None:
    """The acceptance: every id exactly once in the output, no id already written sent
    again, the ledger agreeing with the output. The rerun talks to an upstream of its
    own, so what it sent is told apart from what the killed run sent."""
    up = Upstream(srv, delay=0.001)
    cfg, req, out = write_config(srv, tmp_path), tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(req, 2000)
    proc = start_until(batch_cmd(cfg, req, out, "--concurrency", "32"), tmp_path, out, 600)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    written = whole_lines(out)  # what the killed run wrote (a torn last line is not)
    first = {line["custom_id"] for line in written}
    assert 600 <= len(first) < 2000 and len(first) == len(written)
    paid_first, _ = ledger_rows(tmp_path)
    assert max(Counter(up.ids()).values()) == 1  # (no retries: each id sent once a run)

    with FakeServer() as srv2:  # the rerun's upstream: it records only the rerun's calls
        up2 = Upstream(srv2, delay=0.001)
        cfg = write_config(srv2, tmp_path)  # the same ledger and output
        done = run(batch_cmd(cfg, req, out, "--concurrency", "32"), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    resent = Counter(up2.ids())
    assert not set(resent) & first  # no id already written was sent again
    assert set(resent) == set(ids) - first and max(resent.values()) == 1  # the rest, once
    assert f"{len(first)} already done" in done.stderr
    lines = read_output(out)  # every line whole: the torn tail (if any) was cut
    assert sorted(line["custom_id"] for line in lines) == ids  # each id exactly once
    for line in lines:
        assert line["error"] is None
        body = line["response"]["body"]
        assert body["choices"][0]["message"]["content"] == f"answer to {line['custom_id']}"
        assert line["plugbay"]["cost"] == pytest.approx(COST)

    # The ledger agrees with the output: each id the killed run wrote has the one row
    # of its one call; each id the rerun wrote has the rerun's row, plus (at most) one
    # of the killed run's, for a call answered and metered but not yet written at the
    # kill; nothing else is in it, and its cost is the rows' cost.
    paid, cost = ledger_rows(tmp_path)
    assert set(paid) == set(ids)
    assert all(paid[cid] == paid_first[cid] == 1 for cid in first)
    assert paid - paid_first == resent  # the rerun: one row per id it sent and wrote
    in_flight = set(paid_first) - first  # paid by the killed run, not written by it
    assert in_flight <= set(up.answered) - first
    assert all(cost[cid] == pytest.approx(COST * paid[cid]) for cid in ids)
    for line in written:
        assert cost[line["custom_id"]] == pytest.approx(line["plugbay"]["cost"])


def test_ctrl_c_finishes_the_calls_in_flight_and_loses_nothing(srv: FakeServer,
                                                              tmp_path: Path) -> None:
    up = Upstream(srv, delay=0.02)
    cfg, req, out = write_config(srv, tmp_path), tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(req, 400)
    cmd = batch_cmd(cfg, req, out, "--concurrency", "16")
    proc = start_until(cmd, tmp_path, out, 50)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "stopping" in err and "stopped: interrupted (Ctrl-C)" in err
    written = [line["custom_id"] for line in read_output(out)]
    assert len(written) < 400
    with up.lock:
        answered = list(up.answered)
    assert sorted(written) == sorted(answered)  # every answer the upstream gave is written

    done = run(cmd, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(line["custom_id"] for line in read_output(out)) == ids
    assert max(Counter(up.ids()).values()) == 1  # no request was sent twice


def test_429_heavy_upstream_no_failures_and_never_above_the_rpm(srv: FakeServer,
                                                               tmp_path: Path) -> None:
    def fault(cid: str, attempt: int) -> Reply | None:
        n = int(cid.rsplit("-", 1)[1])
        if n % 2 == 0 and attempt <= 2:  # half the items: two 429s each before an answer
            return error(429, "rate_limit_exceeded",
                         {"retry-after-ms": "30"} if n % 4 == 0 else None)
        return None

    up = Upstream(srv, delay=0.002, fault=fault)
    rpm = 3000
    cfg, req, out = write_config(srv, tmp_path), tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(req, 200)
    done = run(batch_cmd(cfg, req, out, "--concurrency", "16", "--rpm", str(rpm)), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ids
    assert all(line["error"] is None for line in lines)  # no item failed for a rate limit
    assert "200 rate limits retried" in done.stderr
    with up.lock:
        times = sorted(t for _, t in up.seen)
    assert len(times) == 400
    # The upstream's own clock: no window of W seconds holds more than its share of the
    # RPM, give or take the window's edge and 0.1 s of arrival jitter (a busy machine can
    # hold a request back, then deliver it beside the next): starts are evenly spaced.
    for width in (0.5, 2.0, 5.0):
        most = max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))
        assert most <= rpm * (width + 0.1) / 60 + 1, (width, most)


def test_malformed_lines_are_reported_by_number_and_the_rest_runs(srv: FakeServer,
                                                                  tmp_path: Path) -> None:
    Upstream(srv)
    cfg, req, out = write_config(srv, tmp_path), tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    good = [json.dumps(request_line(i, "openai" if i % 2 else "simple")) for i in range(12)]
    bad = {3: "{not json", 6: json.dumps({"model": "openai/x", "messages": "hi"}),
           8: json.dumps(request_line(0)),
           10: json.dumps({**request_line(50, "openai"), "url": "/v1/embeddings"}),
           13: json.dumps({"custom_id": "no-model", "messages": [{"role": "user",
                                                                  "content": "x"}]})}
    lines, g = [], iter(good)
    for n in range(1, 18):
        lines.append(bad[n] if n in bad else next(g, ""))
    req.write_text("\n".join(lines) + "\n")
    with req.open("ab") as fh:
        fh.write(b"\xff\xfe not text\n")  # line 18
    done = run(batch_cmd(cfg, req, out), tmp_path)
    assert done.returncode == 1
    err = done.stderr
    assert "line 3: not JSON" in err
    assert "line 6: no custom_id" in err
    assert "line 8: custom_id 'req-00000' is repeated" in err
    assert "line 10: POST /v1/embeddings is not supported" in err
    assert "line 13: no model" in err
    assert "line 18: not UTF-8 text (byte 0xff at column 1)" in err
    assert "12 done (0 failed), 6 malformed, skipped" in err
    assert len(read_output(out)) == 12
    # with a default model the no-model line runs; the others are still reported
    again = run(batch_cmd(cfg, req, out, "-m", "openai/gpt-4o-mini"), tmp_path)
    assert "1 done (0 failed), 12 already done, skipped, 5 malformed" in again.stderr
    assert "no-model" in {line["custom_id"] for line in read_output(out)}


def test_a_budget_stop_ends_cleanly_and_a_rerun_continues(srv: FakeServer,
                                                           tmp_path: Path) -> None:
    up = Upstream(srv, delay=0.002)
    req, out = tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(req, 120)
    tight = {"tight": {"scope": "global", "period": "daily", "limit": COST * 30,
                       "mode": "hard"}}
    cfg = write_config(srv, tmp_path, budgets=tight)
    stopped = run(batch_cmd(cfg, req, out, "--concurrency", "8"), tmp_path)
    assert stopped.returncode == 3, stopped.stderr[-2000:]
    assert "stopped: budget 'tight' reached" in stopped.stderr
    assert "rerun the same command" in stopped.stderr
    first = read_output(out)
    assert 0 < len(first) < 120
    assert all(line["error"] is None for line in first)  # refused items are not written
    assert len(up.ids()) == len(first)  # the refused ones were never sent

    cfg = write_config(srv, tmp_path, budgets={**tight, "tight": {**tight["tight"],
                                                                   "limit": 1.0}})
    done = run(batch_cmd(cfg, req, out, "--concurrency", "8"), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(line["custom_id"] for line in read_output(out)) == ids
    assert max(Counter(up.ids()).values()) == 1


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "plugbay.toml"
    cfg.write_text("")
    missing = run([sys.executable, "-m", "plugbay.cli", "--config", str(cfg), "batch",
                   "nope.jsonl", "-o", "out.jsonl"], tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "plugbay: error: no such input file: nope.jsonl"
    (tmp_path / "r.jsonl").write_text(json.dumps(request_line(1)) + "\n")
    no_out = run([sys.executable, "-m", "plugbay.cli", "--config", str(cfg), "batch",
                  "r.jsonl"], tmp_path)
    assert no_out.returncode == 2 and "-o FILE is required" in no_out.stderr
    assert "Traceback" not in missing.stderr + no_out.stderr


def test_provider_batch_detach_status_resume_fetch_cancel(srv: FakeServer,
                                                          tmp_path: Path) -> None:
    """--provider-batch against a fake of OpenAI's Files + Batches API: the job id is kept
    beside the output, so a rerun waits for the same job instead of paying again."""
    from plugbay.testing.batch_fakes import BatchScenario, OpenAIBatchFake

    fake = OpenAIBatchFake(BatchScenario(polls=1, fail={"req-00003"}))
    fake.install(srv, prefix="/openai/v1")
    cfg, req, out = write_config(srv, tmp_path), tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(req, 6)
    with req.open("a") as fh:
        fh.write("{broken\n")
    cmd = batch_cmd(cfg, req, out, "--provider-batch", "--poll", "0.05")
    base = [sys.executable, "-m", "plugbay.cli", "--config", str(cfg), "batch"]

    detached = run([*cmd, "--detach"], tmp_path)
    assert detached.returncode == 0, detached.stderr[-2000:]
    job = detached.stdout.strip()
    assert job.startswith("openai:") and fake.submits == 1
    assert "line 7: not JSON" in detached.stderr
    assert "submitted 6 requests" in detached.stderr
    assert (tmp_path / "out.jsonl.job").read_text().strip() == job

    status = run([*base, "status", job], tmp_path)
    assert status.returncode == 0 and status.stdout.startswith(f"{job} in_progress")

    resumed = run(cmd, tmp_path)
    assert resumed.returncode == 1, resumed.stderr[-2000:]  # one item failed at the provider
    assert f"resuming job {job}" in resumed.stderr and fake.submits == 1
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ids
    failed = [line["custom_id"] for line in lines if line["error"] is not None]
    assert failed == ["req-00003"]
    assert not (tmp_path / "out.jsonl.job").exists()

    again = run(cmd, tmp_path)  # everything is in the output: nothing is submitted
    assert again.returncode == 0 and "nothing to submit" in again.stderr
    assert fake.submits == 1

    fetched = run([*base, "fetch", job, "-o", str(tmp_path / "copy.jsonl"), "--poll", "0.05"],
                  tmp_path)
    assert fetched.returncode == 1, fetched.stderr[-2000:]
    assert sorted(x["custom_id"] for x in read_output(tmp_path / "copy.jsonl")) == ids
    cancelled = run([*base, "cancel", job], tmp_path)
    assert cancelled.returncode == 0 and job in cancelled.stdout and fake.cancelled
    bad = run([*base, "status", "no-colon"], tmp_path)
    assert bad.returncode == 2 and "provider:id" in bad.stderr and "Traceback" not in bad.stderr
