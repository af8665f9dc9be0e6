"""The README's promises: two set-up commands first, the first answering with no key, and
a config example that loads."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import plugbay

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    return [ln for ln in first_block.group(1).splitlines() if ln.strip()]


def test_readme_opens_with_the_two_setup_commands():
    commands = setup_commands()
    assert len(commands) == 2
    assert commands[0].startswith("bash .ci/setup && .venv/bin/plugbay complete -m mock/")
    assert commands[1].startswith("bash .ci/test")
    assert "bash .ci/test" in (ROOT / ".ci" / "run").read_text()


def test_first_command_answers_without_a_key_and_shows_the_cost(tmp_path):
    """The first command after set-up, run as written: a completion through the mock,
    then the ledger with that one call and its cost, in a fresh HOME with no keys."""
    line = setup_commands()[0].split("#")[0].strip()
    setup, _, cli = line.partition(" && ")
    assert setup == "bash .ci/setup" and cli.startswith(".venv/bin/plugbay complete")
    prompt = shlex.split(cli.split("&&")[0])[-1]
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)  # this checkout's venv
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PLUGBAY") and not k.endswith(("_API_KEY", "_TOKEN"))
           and k not in ("XDG_DATA_HOME", "VIRTUAL_ENV")}
    env["HOME"] = str(home)
    proc = subprocess.run(["bash", "-c", cli], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    answer, *table = proc.stdout.splitlines()
    assert answer == prompt, "mock/echo repeats the prompt"
    assert table[0].split()[:3] == ["DAY", "CALLS", "ERRORS"] and "COST" in table[0]
    rows = [r.split() for r in table[1:]]
    assert len(rows) == 2 and rows[1][0] == "TOTAL", proc.stdout  # one day, one total
    cost = table[0].split().index("COST")
    for row in rows:
        assert row[1] == "1" and row[2] == "0", proc.stdout  # one call, no error
        assert float(row[cost]) > 0, f"no cost shown: {proc.stdout}"
    assert list(home.rglob("ledger.db")), "the call went to the throwaway HOME's ledger"


def test_readme_config_example_is_valid(tmp_path):
    block = re.search(r"```toml\n# plugbay.toml\n(.*?)```", README, re.S)
    assert block is not None
    path = tmp_path / "plugbay.toml"
    path.write_text(block.group(1))
    client = plugbay.Client(path, env={"PLUGBAY_LEDGER": "off"})
    assert client.router.resolve("smart") is client.router.resolve("agent:pricing")
    assert client.budgets is not None
