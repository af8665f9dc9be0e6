"""The progress bar: drawn on a terminal (done/total, rate, ETA, failures, cost), never
otherwise; the CLI gives it the input's line count as the total, so the ETA shows."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import plugbay
from plugbay.batch.progress import make_progress
from plugbay.testing.server import FakeServer

from .conftest import Upstream, child_env, config, request_line, write_config, write_requests


def test_no_bar_unless_a_terminal_asked_for_it() -> None:
    assert make_progress(True, 10, out=io.StringIO()) is None
    assert make_progress(False, 10, out=io.StringIO()) is None


def pty() -> tuple[int, int]:
    """A pseudo-terminal 160 columns wide: (master, slave)."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    return master, slave


def read_all(master: int) -> str:
    """Everything written to the terminal, once every writer has closed its end."""
    chunks = []
    while True:  # a pty hands its buffer over in pieces; EOF (or EIO) once all is read
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


# tqdm's frame: "3/4 [00:00<00:01,  3.99req/s, failed 1, $0.3000, in flight 2]"
FRAME = re.compile(r"(\d+)/(\d+) \[(\d\d:\d\d)<(\d\d:\d\d|\?), +([\d.]+|\?)req/s"
                   r"(?:, failed (\d+), \$([\d.]+))?")


def frames(text: str) -> list[tuple[str, ...]]:
    return [m.groups() for m in FRAME.finditer(text)]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_terminal_gets_done_total_failed_and_cost() -> None:
    master, slave = pty()
    with os.fdopen(slave, "w") as tty:
        bar = make_progress(True, 4, initial=1, out=tty)
        assert bar is not None
        for done in (2, 3, 4):
            time.sleep(0.25)  # past the bar's 0.2 s redraw interval: each update is drawn
            bar.update(done, int(done > 2), done / 10, 0, 2)
        bar.close()
        tty.flush()
    text = read_all(master)
    assert "4/4" in text and "failed 1" in text and "$0.4000" in text
    drawn = {int(f[0]): f for f in frames(text)}
    assert set(drawn) >= {2, 3, 4}
    for done in (2, 3, 4):  # each frame: an ETA, a rate, and the failures and cost so far
        _, total, _, eta, rate, failed, cost = drawn[done]
        assert total == "4" and eta != "?" and rate != "?" and float(rate) > 0
        assert (failed, cost) == (str(int(done > 2)), f"{done / 10:.4f}")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_items_between_redraws_are_drawn_when_the_bar_closes() -> None:
    master, slave = pty()
    with os.fdopen(slave, "w") as tty:
        bar = make_progress(True, 3, out=tty)
        assert bar is not None
        for done in (1, 2, 3):  # within one redraw interval: only the first is drawn now
            bar.update(done, 0, done / 10, 0, 1)
        bar.close()
        tty.flush()
    last = frames(read_all(master))[-1]
    assert (last[0], last[1], last[5], last[6]) == ("3", "3", "0", "0.3000")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_cli_on_a_terminal_shows_the_total_rate_and_eta(srv: FakeServer,
                                                           tmp_path: Path) -> None:
    Upstream(srv, delay=0.05)
    cfg, req, out = write_config(srv, tmp_path), tmp_path / "req.jsonl", tmp_path / "out.jsonl"
    write_requests(req, 40)
    out.write_text("".join(json.dumps({"custom_id": f"req-{i:05d}"}) + "\n"
                           for i in range(10)))  # 10 done before: a rerun starts at 10/40
    master, slave = pty()
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", "--config", str(cfg), "batch",
                           str(req), "-o", str(out), "--concurrency", "2"],
                          stdout=subprocess.PIPE, stderr=slave, env=child_env(tmp_path),
                          cwd=tmp_path, timeout=60, check=False)
    os.close(slave)
    text = read_all(master)
    assert proc.returncode == 0, text[-2000:]
    drawn = frames(text)
    assert drawn and {f[1] for f in drawn} == {"40"}  # the CLI counted the lines: a total
    assert drawn[0][0] == "10" and drawn[-1][0] == "40"
    middle = [f for f in drawn if 10 < int(f[0]) < 40]
    assert middle and all(f[3] != "?" and f[4] != "?" for f in middle)  # an ETA and a rate
    assert "30 done (0 failed), 10 already done" in text


async def test_the_runner_draws_nothing_when_stderr_is_not_a_terminal(
        srv: FakeServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    Upstream(srv)
    async with plugbay.Client(config(srv, tmp_path), env={"HOME": str(tmp_path)}) as c:
        got = [r async for r in c.abatch([request_line(i) for i in range(5)])]
    assert len(got) == 5
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the library prints nothing
