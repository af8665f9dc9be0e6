"""The progress bar: drawn on a terminal (done/total, rate, failures, cost), never
otherwise."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

import plugbay
from plugbay.batch.progress import make_progress
from plugbay.testing.server import FakeServer

from .conftest import Upstream, config, request_line


def test_no_bar_unless_a_terminal_asked_for_it() -> None:
    assert make_progress(True, 10, out=io.StringIO()) is None
    assert make_progress(False, 10, out=io.StringIO()) is None


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_terminal_gets_done_total_failed_and_cost() -> None:
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # 160 columns
    with os.fdopen(slave, "w") as tty:
        bar = make_progress(True, 4, initial=1, out=tty)
        assert bar is not None
        for done in (2, 3, 4):
            bar.update(done, 1, 0.25, 0, 2)
        bar.close()
        tty.flush()
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
    text = b"".join(chunks).decode(errors="replace")
    assert "4/4" in text and "failed 1" in text and "$0.2500" in text


async def test_the_runner_draws_nothing_when_stderr_is_not_a_terminal(
        srv: FakeServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    Upstream(srv)
    async with plugbay.Client(config(srv, tmp_path), env={"HOME": str(tmp_path)}) as c:
        got = [r async for r in c.abatch([request_line(i) for i in range(5)])]
    assert len(got) == 5
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the library prints nothing
