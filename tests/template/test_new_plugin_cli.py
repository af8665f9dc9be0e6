"""``plugbay new-plugin``: placement in and out of the repository, next steps, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plugbay import _toml, scaffold

from .conftest import files_under, run_new_plugin


def new_plugin(cwd: Path, *args: str) -> tuple[int, str]:
    proc = run_new_plugin(cwd, "--no-input", *args)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, proc.stdout


def test_inside_the_repository_it_goes_to_plugins(workspace: Path) -> None:
    deep = workspace / "core" / "src"
    deep.mkdir(parents=True)
    code, out = new_plugin(deep, "--name", "acme", "--display-name", "Acme AI",
                           "--base-url", "https://api.acme.example/v1", "--auth", "header",
                           "--auth-header", "X-Acme-Key", "--api-key-env", "ACME_TOKEN",
                           "--author", "Ada")
    assert code == 0
    plugin = workspace / "plugins" / "acme"
    assert "docs/acme.md" not in files_under(plugin)
    assert (workspace / "docs" / "providers" / "acme.md").read_text().startswith("# Acme AI")
    init = (plugin / "src" / "plugbay_acme" / "__init__.py").read_text()
    assert '"X-Acme-Key"' in init and '"ACME_TOKEN"' in init
    assert _toml.loads((plugin / "pyproject.toml").read_text())["project"]["authors"] == [
        {"name": "Ada"}]
    # The next steps use paths relative to where the command ran.
    assert "Created ../../plugins/acme (openai-compatible)." in out
    assert "-e ../../plugins/acme" in out and "../../.venv/bin/pytest ../../plugins/acme" in out
    assert "docs/providers/index.md" in out and "README.md" in out


def test_outside_the_repository_it_goes_to_the_current_directory(tmp_path: Path) -> None:
    code, out = new_plugin(tmp_path, "--name", "acme", "--flavour", "custom")
    assert code == 0
    plugin = tmp_path / "acme"
    assert {"docs/acme.md", "src/plugbay_acme/codec.py"} <= files_under(plugin)
    assert out.startswith("Created acme (custom).\n")
    assert "       cd acme\n       uv pip install -e .\n       pytest -q\n" in out
    assert "each naming a step" in out


def test_output_dir_option(tmp_path: Path) -> None:
    code, _ = new_plugin(tmp_path, "--name", "acme", "--output-dir", "out/here")
    assert code == 0 and (tmp_path / "out" / "here" / "acme" / "pyproject.toml").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "Acme"], "provider name 'Acme' is not valid"),
    (["--name", "acme_cloud"], "provider name 'acme_cloud' is not valid"),
    (["--name", "1acme"], "provider name '1acme' is not valid"),
    (["--name", "acme", "--flavour", "grpc"], "flavour 'grpc' must be one of"),
    (["--name", "acme", "--auth", "basic"], "auth 'basic' must be one of"),
    (["--name", "acme", "--auth", "header", "--auth-header", "X Key"], "auth header"),
    (["--name", "acme", "--base-url", "api.acme.example"], "base URL"),
    (["--name", "acme", "--api-key-env", "acme-key"], "API key variable"),
    (["--name", "acme", "--display-name", 'Acme "AI"'], "display name"),
    ([], "--no-input needs --name"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str],
                                          message: str) -> None:
    proc = run_new_plugin(tmp_path, "--no-input", *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("plugbay: error: ")
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is written on bad input"


def test_clash_with_an_existing_plugin(workspace: Path) -> None:
    (workspace / "plugins" / "acme").mkdir()
    proc = run_new_plugin(workspace, "--no-input", "--name", "acme")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "plugins/acme already exists" in proc.stderr
    (workspace / "docs" / "providers" / "zeta.md").write_text("# Zeta\n")
    proc = run_new_plugin(workspace, "--no-input", "--name", "zeta")
    assert proc.returncode == 2 and "docs/providers/zeta.md already exists" in proc.stderr
    assert not (workspace / "plugins" / "zeta").exists()


def test_interactive_answers_from_stdin(tmp_path: Path) -> None:
    # name, display name, base URL, key variable, auth (2 = header), header, flavour, author
    answers = "zeta\nZeta Labs\n\nZETA_KEY\n2\nX-Zeta\n1\nBo\n"
    proc = run_new_plugin(tmp_path, stdin=answers)
    assert proc.returncode == 0, proc.stderr
    init = (tmp_path / "zeta" / "src" / "plugbay_zeta" / "__init__.py").read_text()
    assert '"X-Zeta"' in init and '"ZETA_KEY"' in init and "Zeta Labs" in init
    assert "Created zeta (openai-compatible)." in proc.stdout


def test_core_does_not_import_cookiecutter() -> None:
    code = ("import sys, plugbay, plugbay.cli; plugbay.cli.build_parser(); "
            "assert 'cookiecutter' not in sys.modules, 'imported at import time'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_missing_cookiecutter_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['cookiecutter'] = None; from plugbay.cli import main; "
            "sys.exit(main(['new-plugin', '--no-input', '--name', 'acme']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "pip install cookiecutter" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_template_found_from_the_checkout() -> None:
    assert scaffold.template_dir() in (Path(scaffold.__file__).parent / "_template",
                                       Path(__file__).resolve().parents[2] / "template")


def test_this_repository_is_detected(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    assert scaffold.template_hooks().find_workspace(root / "core" / "src") == root
    # A name that exists: refused before anything is written, nothing touched.
    before = sorted(p.name for p in (root / "plugins").iterdir())
    proc = run_new_plugin(root / "docs", "--no-input", "--name", "openai")
    assert proc.returncode == 2 and "plugins/openai already exists" in proc.stderr
    assert sorted(p.name for p in (root / "plugins").iterdir()) == before
