"""Rendered plugins installed with core in fresh virtual environments, their tests run there.

openai-compatible passes as generated; custom fails, naming every step still to write.
And ``plugbay new-plugin`` works from an installed wheel (the template is package data).
"""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, UV, Render, bytecode_under, fresh_venv, run_pytest, uv

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed")]
TEST_DEPS = ("pytest", "pytest-asyncio", "pytest-timeout")
STEPS = ("request and response handling", "streaming", "function calling", "error handling",
         "model discovery", "cost calculation")
CODEC = ("codec.build_body", "codec.parse_usage", "codec.parse_error")


def summary(output: str) -> dict[str, int]:
    last = output.strip().splitlines()[-1]
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", last)}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("auth", ["bearer", "header", "none"])
def test_openai_compatible_passes_as_generated(render: Render, tmp_path: Path,
                                               auth: str) -> None:
    plugin = render(tmp_path, provider="acme-cloud", auth=auth, auth_header="X-Acme-Key",
                    base_url="https://api.acme.example/openai/v1")
    bindir = fresh_venv(tmp_path / "venv", str(ROOT / "core"), str(plugin), *TEST_DEPS)
    proc = run_pytest(bindir, plugin, "-q")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    counts = summary(proc.stdout)
    assert counts.get("passed", 0) >= 20 and "failed" not in counts and "error" not in counts
    # The one skip is the reminder that prices.toml is still to fill in.
    assert "prices.toml is still TO FILL IN" in proc.stdout


@pytest.mark.timeout(600)
@pytest.mark.parametrize("auth", ["bearer", "header", "none"])
def test_custom_fails_naming_each_missing_step(render: Render, tmp_path: Path,
                                               auth: str) -> None:
    plugin = render(tmp_path, provider="acme-cloud", flavour="custom", auth=auth)
    bindir = fresh_venv(tmp_path / "venv", str(ROOT / "core"), str(plugin), *TEST_DEPS)
    proc = run_pytest(bindir, plugin, "-q", "--tb=no", "-rf")
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    counts = summary(proc.stdout)
    assert counts["failed"] >= 15 and "error" not in counts, proc.stdout[-2000:]
    failures = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    assert len(failures) == counts["failed"]
    for line in failures:  # every failure says which step is missing
        assert "NotImplementedError: step '" in line, line
    for step in STEPS:
        assert f"step '{step}'" in proc.stdout, f"no failure names {step!r}"
    for function in CODEC:
        assert f"{function} is not written" in proc.stdout
    # What does not depend on the codec already works: entry point, auth, prices.
    assert counts["passed"] >= 4
    assert "test_discovered_through_entry_point" not in "".join(failures)
    assert "test_auth_is_sent_on_every_request" not in "".join(failures)


@pytest.mark.timeout(900)
def test_new_plugin_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = uv("build", "--wheel", "--quiet", "--out-dir", str(wheels), str(ROOT / "core"),
               cwd=ROOT)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("plugbay-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for part in ("cookiecutter.json", "hooks/pre_gen_project.py", "hooks/post_gen_project.py",
                 "{{cookiecutter.provider}}/pyproject.toml"):
        assert f"plugbay/_template/{part}" in names, part
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["HOME"] = str(tmp_path)  # cookiecutter's replay file stays here

    def plugbay(bindir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bindir / "plugbay"), *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)

    # Core alone: no cookiecutter, so new-plugin explains how to get it. Compiled on
    # install as pip does, so the template's own modules have __pycache__ folders.
    bindir = fresh_venv(tmp_path / "venv", str(wheel), compile_bytecode=True)
    bare = plugbay(bindir, "new-plugin", "--no-input", "--name", "acme")
    assert bare.returncode == 2 and bare.stderr.count("\n") == 1, bare.stderr
    assert "pip install cookiecutter" in bare.stderr
    # With the scaffold extra's dependency, the template comes from the wheel.
    added = uv("pip", "install", "--quiet", "--python", str(bindir / "python"),
               "cookiecutter>=2.6", *TEST_DEPS, cwd=work)
    assert added.returncode == 0, added.stderr
    where = subprocess.run([str(bindir / "python"), "-c",
                            "from plugbay.scaffold import template_dir; print(template_dir())"],
                           capture_output=True, text=True, timeout=60, cwd=work)
    assert "site-packages" in where.stdout and "_template" in where.stdout, where
    made = plugbay(bindir, "new-plugin", "--no-input", "--name", "acme",
                   "--base-url", "https://api.acme.example/v1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Created acme (openai-compatible).")
    plugin = work / "acme"
    assert bytecode_under(plugin) == [], "compiled template modules were copied"
    installed = uv("pip", "install", "--quiet", "--no-sources", "--python",
                   str(bindir / "python"), str(plugin), cwd=work)
    assert installed.returncode == 0, installed.stderr
    proc = run_pytest(bindir, plugin, "-q")
    assert proc.returncode == 0, proc.stdout[-4000:]
    listed = plugbay(bindir, "plugins")
    assert re.search(r"^acme\s+plugbay-acme\s+0\.1\.0\s+loaded", listed.stdout, re.M), listed
