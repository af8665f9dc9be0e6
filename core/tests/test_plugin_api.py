"""The plugin API version: a plugin built for another API than this plugbay's is marked
broken with one line naming the side to upgrade, and a plugin with only the required
hooks (no optional ones) loads. The plugins are really installed: a distribution with
its entry point on a path the interpreter searches, found by ``importlib.metadata``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugbay.hookspecs import PLUGIN_API

pytestmark = pytest.mark.timeout(60)

HOOKS = '''
from plugbay import hookimpl
from plugbay.types import Completion, FinishEvent, TextDelta

@hookimpl
def complete(request, provider):
    return Completion(text="ok", model=request.model, provider=provider.name)

@hookimpl
async def stream(request, provider):
    yield TextDelta(text="ok")
    yield FinishEvent(reason="stop")
'''


def install(site: Path, name: str, api: int | None) -> None:
    """A distribution ``plugbay-<name>`` whose module declares ``plugin_api = api``."""
    module = site / f"plugbay_{name}"
    module.mkdir(parents=True)
    declared = "" if api is None else f"plugin_api = {api}\n"
    (module / "__init__.py").write_text(declared + textwrap.dedent(HOOKS))
    info = site / f"plugbay_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: plugbay-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[plugbay]\n{name} = plugbay_{name}\n")
    (info / "RECORD").write_text("")


def plugins(site: Path, tmp: Path) -> dict[str, dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(tmp)}
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", "plugins", "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp, timeout=50)
    assert proc.returncode == 0, proc.stderr
    return {s["name"]: s for s in json.loads(proc.stdout)}


def test_an_older_and_a_newer_plugin_api_are_one_line_each(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "acme", PLUGIN_API - 1)
    install(site, "future", PLUGIN_API + 1)
    found = plugins(site, tmp_path)
    assert found["acme"]["state"] == "broken"
    assert found["acme"]["error"] == (
        f"plugbay-acme was built for plugin API {PLUGIN_API - 1}; this plugbay speaks "
        f"{PLUGIN_API}: upgrade plugbay-acme")
    assert found["future"]["state"] == "broken"
    assert found["future"]["error"].endswith(f"this plugbay speaks {PLUGIN_API}: upgrade plugbay")
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    table = subprocess.run([sys.executable, "-m", "plugbay.cli", "plugins"], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=50).stdout
    line = next(ln for ln in table.splitlines() if ln.startswith("acme "))
    assert "broken" in line and "upgrade plugbay-acme" in line


def test_a_plugin_with_only_the_required_hooks_loads(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "minimal", PLUGIN_API)
    install(site, "undeclared", None)  # taken as built for the current API
    found = plugins(site, tmp_path)
    assert found["minimal"]["state"] == "loaded", found["minimal"]["error"]
    assert found["undeclared"]["state"] == "loaded", found["undeclared"]["error"]


def test_a_call_to_a_mismatched_plugin_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "acme", PLUGIN_API + 1)
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", "complete", "-m", "acme/x", "hi"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=50)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"plugbay: error: plugbay-acme was built for plugin API {PLUGIN_API + 1}; this plugbay "
        f"speaks {PLUGIN_API}: upgrade plugbay"]
