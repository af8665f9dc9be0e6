"""docs/writing-a-plugin.md, followed literally, gives a plugin whose tests pass.

Blocks preceded by ``<!-- test -->`` are shell commands; ``<!-- test: write PATH -->`` and
``<!-- test: append PATH -->`` put the block into a file. All run in order, in one shell,
in an empty directory, with plugbay installed from a freshly built wheel (step 1).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, UV, fresh_venv, uv

DOC = ROOT / "docs" / "writing-a-plugin.md"
MARK = re.compile(r"^<!-- test(?:: (write|append) (\S+))? -->\n```\w*\n(.*?)^```$",
                  re.MULTILINE | re.DOTALL)


def script(text: str) -> str:
    lines = ["set -euo pipefail"]
    for action, path, body in MARK.findall(text):
        if not action:
            lines.append(body)
            continue
        arrow = ">" if action == "write" else ">>"
        lines.append(f"cat {arrow} {shlex.quote(path)} <<'PLUGBAY_DOC_EOF'\n{body}"
                     "PLUGBAY_DOC_EOF")
    return "\n".join(lines) + "\n"


def test_the_doc_has_tested_steps() -> None:
    text = DOC.read_text()
    blocks = MARK.findall(text)
    markers = [ln for ln in text.splitlines() if ln.startswith("<!-- test")]
    assert len(markers) == len(blocks), "a test marker not followed by a block"
    assert len(blocks) >= 6
    commands = script(text)
    for needed in ("plugbay new-plugin", "pytest -q", "uv build"):
        assert needed in commands


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed")
def test_following_the_tutorial_gives_a_passing_plugin(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = uv("build", "--wheel", "--quiet", "--out-dir", str(wheels), str(ROOT / "core"),
               cwd=ROOT)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("plugbay-*.whl")
    # Step 1 of the tutorial, with the wheel standing in for PyPI.
    venv = tmp_path / "venv"
    bindir = fresh_venv(venv, f"plugbay[scaffold] @ {wheel.as_uri()}", "pytest",
                        "pytest-asyncio", "pytest-timeout")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{bindir}{os.pathsep}{Path(UV).parent}"
               f"{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path), COLUMNS="200")
    proc = subprocess.run(["bash", "-c", script(DOC.read_text())], cwd=work, env=env,
                          capture_output=True, text=True, timeout=800)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    runs = re.findall(r"^(\d+) passed(?:, (\d+) skipped)?", proc.stdout, re.MULTILINE)
    assert len(runs) == 2, proc.stdout
    (first, skipped), (second, unskipped) = runs
    assert skipped == "1" and unskipped == "", "the price table test runs once filled in"
    assert int(second) == int(first) + 1 + 2, "the two tests the tutorial adds ran"
    assert "failed" not in proc.stdout and "error" not in proc.stdout.lower()
    assert (work / "acme" / "dist" / "plugbay_acme-0.1.0-py3-none-any.whl").is_file()
