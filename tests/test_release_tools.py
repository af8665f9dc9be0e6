"""The release tools in .ci: the version bump (dry run here; it writes nothing) and the
release command's dry run, which CI runs in full (.ci/run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from plugbay import _toml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)


def version(folder: str) -> str:
    with (ROOT / folder / "pyproject.toml").open("rb") as fh:
        return str(_toml.load(fh)["project"]["version"])


def test_bump_dry_run_lists_each_changed_distribution_and_writes_nothing() -> None:
    before = (ROOT / "core" / "pyproject.toml").read_text()
    first = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True).stdout.split()
    if not first:
        pytest.skip("not a git checkout")
    proc = subprocess.run([sys.executable, ".ci/bump.py", "minor", "--since", first[0],
                           "--dry-run"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    major, minor, _ = (int(x) for x in version("core").split("."))
    assert re.search(rf"^\s+core\s+{re.escape(version('core'))} -> {major}\.{minor + 1}\.0$",
                     proc.stdout, re.M)
    plugins = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    for name in plugins:  # core's minor moved: every plugin's plugbay range moves with it
        assert re.search(rf"^\s+plugins/{name}\s", proc.stdout, re.M), name
    assert (ROOT / "core" / "pyproject.toml").read_text() == before


def test_every_plugin_range_admits_this_core() -> None:
    from packaging.requirements import Requirement

    core = version("core")
    for path in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        with path.open("rb") as fh:
            deps = _toml.load(fh)["project"]["dependencies"]
        ranges = [Requirement(d).specifier for d in deps if Requirement(d).name == "plugbay"]
        assert ranges and ranges[0].contains(core), f"{path.parent.name}: {ranges} vs {core}"
