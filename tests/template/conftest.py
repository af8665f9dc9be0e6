"""Shared helpers for the template tests: real renders into temporary directories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template"
UV = shutil.which("uv") or str(Path(sys.executable).parent / "uv")

Render = Callable[..., Path]


def files_under(path: Path) -> set[str]:
    """Relative paths of every file under ``path`` (caches excluded)."""
    return {p.relative_to(path).as_posix() for p in path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def bytecode_under(path: Path) -> list[str]:
    """Compiled Python under ``path``: ``__pycache__`` folders and ``.pyc`` / ``.pyo`` files."""
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                  if p.name == "__pycache__" or p.suffix in (".pyc", ".pyo"))


def make_workspace(path: Path) -> Path:
    """A minimal plugbay checkout: the workspace pyproject, plugins/ and docs/providers/."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(
        '[project]\nname = "plugbay-workspace"\nversion = "0"\n\n'
        '[tool.uv.workspace]\nmembers = ["core", "plugins/*"]\n')
    (path / "plugins").mkdir()
    (path / "docs" / "providers").mkdir(parents=True)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "repo")


@pytest.fixture
def render(caplog: pytest.LogCaptureFixture, tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render the template with cookiecutter's API (the hooks run for real). No rendered
    plugin may carry compiled Python."""
    from cookiecutter.main import cookiecutter

    # Not the user's ~/.cookiecutterrc, and the replay file goes to a temporary directory.
    config = {"replay_dir": str(tmp_path_factory.mktemp("replay"))}

    def run(output_dir: Path, *, template: Path = TEMPLATE, **values: Any) -> Path:
        # caplog keeps cookiecutter's own log (a traceback on refusal) off stderr.
        plugin = Path(cookiecutter(str(template), no_input=True, output_dir=str(output_dir),
                                   extra_context={k: str(v) for k, v in values.items()},
                                   default_config=config))
        assert bytecode_under(plugin) == [], "the rendered plugin carries compiled Python"
        return plugin

    return run


def uv(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run([UV, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout)


def fresh_venv(path: Path, *packages: str, compile_bytecode: bool = False) -> Path:
    """A new virtual environment at ``path`` with ``packages``; its bin directory.
    ``compile_bytecode`` compiles what is installed, as pip does by default."""
    made = uv("venv", "--quiet", "--python", sys.executable, str(path), cwd=path.parent)
    assert made.returncode == 0, made.stderr
    python = str(path / "bin" / "python")
    compiled = ["--compile-bytecode"] if compile_bytecode else []
    installed = uv("pip", "install", "--quiet", "--no-sources", *compiled, "--python", python,
                   *packages, cwd=path.parent)
    assert installed.returncode == 0, installed.stderr
    return path / "bin"


def run_pytest(bindir: Path, cwd: Path, *args: str,
               timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """The venv's pytest in ``cwd``, wide enough that failure reasons are not cut."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(COLUMNS="400", PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run([str(bindir / "python"), "-m", "pytest", "-p", "no:cacheprovider",
                           *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout)


PLUGBAY = str(Path(sys.executable).parent / "plugbay")


def run_new_plugin(cwd: Path, *args: str,
                   stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``plugbay new-plugin`` as a user runs it, with a HOME of its own (cookiecutter keeps
    a replay file there)."""
    with tempfile.TemporaryDirectory(prefix="plugbay-home-") as home:
        return subprocess.run([PLUGBAY, "new-plugin", *args], cwd=cwd, input=stdin,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "HOME": home})


needs_uv = pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed")
