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
import sys
from pathlib import Path

import pytest

from plugbay import _toml

from .conftest import ROOT, UV, fresh_venv, make_workspace, run_new_plugin, uv

DOC = ROOT / "docs" / "writing-a-plugin.md"
MARK = re.compile(r"^<!-- test(?:: (write|append) (\S+))? -->\n```\w*\n(.*?)^```$",
                  re.MULTILINE | re.DOTALL)
IN_REPO = "## Working inside the plugbay repository"
CHECKOUT_INSTALL = re.compile(r'^pip install -e "\./core\[scaffold\]"( .*)?$', re.MULTILINE)


def bash_lines(text: str) -> list[str]:
    """Every line of every bash block in ``text``, in order."""
    blocks = re.findall(r"^```bash\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    return [ln.strip() for block in blocks for ln in block.splitlines() if ln.strip()]


def printed_commands(output: str) -> list[str]:
    """The commands ``plugbay new-plugin`` prints: the lines it indents as commands."""
    from plugbay.scaffold import COMMAND_INDENT

    return [ln.strip() for ln in output.splitlines() if ln.startswith(COMMAND_INDENT)]


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


@pytest.mark.parametrize("flavour", ["openai-compatible", "custom"])
def test_printed_next_steps_are_the_doc_steps(tmp_path: Path, flavour: str) -> None:
    """Outside the repository: the commands new-plugin prints are the tutorial's, in order.
    In the repository's root: exactly the block of "Working inside the plugbay repository"."""
    tutorial, in_repo = DOC.read_text().split(IN_REPO)
    outside = tmp_path / "outside"
    outside.mkdir()
    proc = run_new_plugin(outside, "--no-input", "--name", "acme", "--flavour", flavour)
    assert proc.returncode == 0, proc.stderr
    commands, lines = printed_commands(proc.stdout), bash_lines(tutorial)
    assert commands, proc.stdout
    at = -1
    for command in commands:
        assert command in lines[at + 1:], f"{command!r} is not next in the tutorial's steps"
        at = lines.index(command, at + 1)
    for mention in ("README.md", "prices.toml", "docs/acme.md"):
        assert mention in proc.stdout and mention in tutorial

    repo = make_workspace(tmp_path / "repo")
    proc = run_new_plugin(repo, "--no-input", "--name", "acme", "--flavour", flavour)
    assert proc.returncode == 0, proc.stderr
    assert printed_commands(proc.stdout) == bash_lines(in_repo.split("\n## ")[0])
    assert "docs/providers/index.md" in proc.stdout and "docs/providers/index.md" in in_repo


def test_the_doc_says_how_to_install_from_a_checkout() -> None:
    """`pip install "plugbay[scaffold]"` looks on PyPI; from a clone, core comes from it."""
    found = CHECKOUT_INSTALL.search(DOC.read_text())
    assert found is not None, 'no `pip install -e "./core[scaffold]"` for a clone'
    extras = _toml.loads((ROOT / "core" / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(d.startswith("cookiecutter") for d in extras["scaffold"])


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed")
def test_the_checkout_install_gives_a_working_new_plugin(tmp_path: Path) -> None:
    """The doc's command for a clone, run in the clone's root, then new-plugin."""
    found = CHECKOUT_INSTALL.search(DOC.read_text())
    assert found is not None
    venv = tmp_path / "venv"
    assert uv("venv", "--quiet", "--python", sys.executable, str(venv), cwd=ROOT).returncode == 0
    args = shlex.split(found.group(0))[2:]  # after `pip install`
    installed = uv("pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                   *args, cwd=ROOT)
    assert installed.returncode == 0, installed.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["HOME"] = str(tmp_path)
    made = subprocess.run([str(venv / "bin" / "plugbay"), "new-plugin", "--no-input", "--name",
                           "acme"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "acme" / "pyproject.toml").is_file()
