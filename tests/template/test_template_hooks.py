"""The template's pre-generation hook refuses bad names and clashes cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from plugbay import scaffold

from .conftest import TEMPLATE, Render

HOOKS = scaffold.template_hooks(TEMPLATE)
GOOD = {"provider": "acme-cloud", "display_name": "Acme Cloud", "author": "Ada",
        "base_url": "https://api.acme.example/v1", "auth": "bearer",
        "api_key_env": "ACME_CLOUD_API_KEY", "auth_header": "X-API-Key",
        "flavour": "openai-compatible"}
BAD = [
    ("provider", "Acme"), ("provider", "acme_cloud"), ("provider", "acme--cloud"),
    ("provider", "-acme"), ("provider", "acme-"), ("provider", "9acme"), ("provider", ""),
    ("provider", "a" * 31), ("provider", "acme cloud"), ("display_name", 'Acme "AI"'),
    ("display_name", "Acme {{ 7 * 7 }}"), ("display_name", "  "), ("author", "A\\B"),
    ("base_url", "ftp://acme.example"), ("base_url", "https://acme.example/ v1"),
    ("base_url", "acme.example"), ("api_key_env", "acme_key"), ("api_key_env", "1KEY"),
    ("auth", "basic"), ("flavour", "grpc"),
]


def test_good_values_pass() -> None:
    assert HOOKS.validate(GOOD) is None
    assert HOOKS.validate({**GOOD, "auth": "header", "auth_header": "x-goog-api-key"}) is None


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}={v!r}" for f, v in BAD])
def test_bad_values_are_named(field: str, value: str) -> None:
    problem = HOOKS.validate({**GOOD, field: value})
    assert problem is not None and repr(value) in problem and "\n" not in problem


def test_bad_auth_header_only_matters_for_header_auth() -> None:
    assert HOOKS.validate({**GOOD, "auth_header": "X Key"}) is None
    assert "auth header" in (HOOKS.validate({**GOOD, "auth": "header",
                                             "auth_header": "X Key"}) or "")


@pytest.mark.parametrize(("field", "value"), [("provider", "Acme"), ("base_url", "nope"),
                                               ("display_name", 'say "hi"')])
def test_cookiecutter_run_is_refused_cleanly(render: Render, tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str], field: str,
                                             value: str) -> None:
    with pytest.raises(FailedHookException):
        render(tmp_path, **{field: value})
    err = capfd.readouterr().err  # the hook's own output (a subprocess of cookiecutter)
    assert err.startswith("error: ") and err.count("\n") == 1 and repr(value) in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "the half-made project directory is removed"


def test_clash_with_a_plugin_in_the_repository(render: Render, workspace: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    (workspace / "plugins" / "acme").mkdir()
    # Rendering elsewhere in the repository still checks plugins/.
    with pytest.raises(FailedHookException):
        render(workspace, provider="acme")
    assert "plugins/acme already exists" in capfd.readouterr().err
    assert not (workspace / "acme").exists()


def test_clash_with_a_docs_page(render: Render, workspace: Path,
                                capfd: pytest.CaptureFixture[str]) -> None:
    (workspace / "docs" / "providers" / "acme.md").write_text("# Acme\n")
    with pytest.raises(FailedHookException):
        render(workspace / "plugins", provider="acme")
    assert "docs/providers/acme.md already exists" in capfd.readouterr().err
    assert list((workspace / "plugins").iterdir()) == []


def test_no_clash_outside_the_repository(render: Render, tmp_path: Path) -> None:
    (tmp_path / "plugins" / "acme").mkdir(parents=True)  # not a plugbay checkout
    assert render(tmp_path, provider="acme").is_dir()


def test_workspace_detection(workspace: Path, tmp_path: Path) -> None:
    (workspace / "core" / "src").mkdir(parents=True)
    assert HOOKS.find_workspace(workspace / "core" / "src") == workspace.resolve()
    assert HOOKS.find_workspace(tmp_path / "elsewhere") is None
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "not-plugbay"\n')
    assert HOOKS.find_workspace(tmp_path / "other") is None
    real = Path(__file__).resolve().parents[2]
    assert HOOKS.find_workspace(Path(__file__).parent) == real
