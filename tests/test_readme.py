"""The README's promises: two set-up commands first, and a config example that loads."""

from __future__ import annotations

import re
from pathlib import Path

import plugbay

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_setup_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [ln for ln in first_block.group(1).splitlines() if ln.strip()]
    assert len(commands) == 2
    assert commands[0].startswith("bash .ci/setup && .venv/bin/plugbay plugins")
    assert commands[1].startswith("bash .ci/test")
    assert "bash .ci/test" in (ROOT / ".ci" / "run").read_text()


def test_readme_config_example_is_valid(tmp_path):
    block = re.search(r"```toml\n# plugbay.toml\n(.*?)```", README, re.S)
    assert block is not None
    path = tmp_path / "plugbay.toml"
    path.write_text(block.group(1))
    client = plugbay.Client(path, env={"PLUGBAY_LEDGER": "off"})
    assert client.router.resolve("smart") is client.router.resolve("agent:pricing")
    assert client.budgets is not None
