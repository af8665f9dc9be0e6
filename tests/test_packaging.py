"""Packaging: every distribution builds without a .pth file, and every plugin installs
and passes its own tests alone with core in a fresh virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
UV = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed")]


def uv(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run([UV, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout)


def build(project: Path, out: Path) -> None:
    proc = uv("build", "--wheel", "--quiet", "--out-dir", str(out), str(project))
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    build(ROOT / "core", out)
    return out


def test_no_wheel_contains_a_pth_file(wheels: Path) -> None:
    for plugin in PLUGINS:
        build(plugin, wheels)
    built = sorted(wheels.glob("*.whl"))
    assert len(built) == len(PLUGINS) + 1
    for wheel in built:
        names = zipfile.ZipFile(wheel).namelist()
        assert not [n for n in names if n.endswith(".pth")], f"{wheel.name} ships a .pth file"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_plugin_installs_alone_and_passes_its_tests(plugin: Path, wheels: Path,
                                                    tmp_path: Path) -> None:
    build(plugin, wheels)
    venv = tmp_path / "venv"
    assert uv("venv", "--quiet", "--python", sys.executable, str(venv)).returncode == 0
    python = str(venv / "bin" / "python")
    dist = "plugbay_" + plugin.name.replace("-", "_")
    mine = [str(w) for w in wheels.glob("*.whl") if w.name.split("-")[0] in ("plugbay", dist)]
    proc = uv("pip", "install", "--quiet", "--python", python, "--find-links", str(wheels),
              *mine, "pytest", "pytest-asyncio", "pytest-timeout", "pyyaml")
    assert proc.returncode == 0, proc.stderr
    listed = subprocess.run([str(venv / "bin" / "plugbay"), "plugins"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next((ln for ln in listed.stdout.splitlines() if ln.split()[:1] == [plugin.name]), "")
    assert "loaded" in row, listed.stdout
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "--import-mode=importlib", "-c", os.devnull,
                            "--rootdir", str(ROOT), "-o", "asyncio_mode=auto",
                            str(plugin / "tests")],
                           capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
