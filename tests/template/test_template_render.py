"""Every option combination of the template renders exactly the expected files."""

from __future__ import annotations

import compileall
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plugbay import _toml

from .conftest import ROOT, TEMPLATE, Render, files_under

FLAVOURS = ("openai-compatible", "custom")
AUTHS = ("bearer", "header", "none")
KEY_ENVS = ("", "ACME_TOKEN")  # "" = the default ACME_CLOUD_API_KEY
COMBOS = list(itertools.product(FLAVOURS, AUTHS, KEY_ENVS))
RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")

CHECKLIST = {
    "Research": ["Auth", "Endpoints", "Request and response formats", "Rate limits", "Pricing",
                 "Error codes"],
    "Implementation": ["Adapter", "Auth", "Model discovery", "Request and response handling"],
    "Features": ["Streaming", "Cost calculation", "Error handling", "Rate limiting",
                 "Function calling", "Vision"],
    "Testing": ["Unit", "Streaming", "Error handling", "Cost"],
    "Documentation": ["Setup", "Examples", "Troubleshooting"],
}


def expected(flavour: str, *, in_repo: bool) -> set[str]:
    files = {"pyproject.toml", "README.md", "LICENSE", "src/plugbay_acme_cloud/__init__.py",
             "src/plugbay_acme_cloud/py.typed",
             "src/plugbay_acme_cloud/prices.toml", "tests/test_acme_cloud_conformance.py",
             "tests/test_acme_cloud_quirks.py"}
    if flavour == "custom":
        files.add("src/plugbay_acme_cloud/codec.py")
    if not in_repo:
        files.add("docs/acme-cloud.md")
    return files


def values(flavour: str, auth: str, key_env: str) -> dict[str, str]:
    out = {"provider": "acme-cloud", "flavour": flavour, "auth": auth,
           "base_url": "https://api.acme.example/v2", "auth_header": "X-Acme-Key"}
    if key_env:
        out["api_key_env"] = key_env
    return out


@pytest.mark.parametrize(("flavour", "auth", "key_env"), COMBOS,
                         ids=["-".join(filter(None, c)) for c in COMBOS])
def test_out_of_repo_render(render: Render, tmp_path: Path, flavour: str, auth: str,
                            key_env: str) -> None:
    plugin = render(tmp_path, **values(flavour, auth, key_env))
    assert plugin == tmp_path / "acme-cloud"
    assert files_under(plugin) == expected(flavour, in_repo=False)
    pyproject = _toml.loads((plugin / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "plugbay-acme-cloud"
    assert pyproject["project"]["entry-points"]["plugbay"] == {"acme-cloud": "plugbay_acme_cloud"}
    assert "uv" not in pyproject.get("tool", {}), "no workspace source outside the repository"
    assert pyproject["tool"]["pytest"]["ini_options"]["asyncio_mode"] == "auto"
    for path in plugin.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # valid Python for every combination
    init = (plugin / "src/plugbay_acme_cloud/__init__.py").read_text()
    assert ("OpenAICompatible" in init) is (flavour == "openai-compatible")
    assert ("X-Acme-Key" in init) is (auth == "header")
    if auth != "none":
        assert ("ACME_TOKEN" in init) is bool(key_env)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_in_repo_render_places_the_docs_page(render: Render, workspace: Path,
                                             flavour: str) -> None:
    plugin = render(workspace / "plugins", provider="acme-cloud", flavour=flavour)
    assert files_under(plugin) == expected(flavour, in_repo=True)
    page = workspace / "docs" / "providers" / "acme-cloud.md"
    text = page.read_text().lower()
    for section in ("setup", "environment", "troubleshooting"):  # as tests/test_docs_providers
        assert f"## {section}" in text
    pyproject = _toml.loads((plugin / "pyproject.toml").read_text())
    assert pyproject["tool"]["uv"]["sources"] == {"plugbay": {"workspace": True}}
    assert "pytest" not in pyproject["tool"], "the workspace's pytest settings apply"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_compiled_template_renders_no_bytecode(render: Render, tmp_path: Path,
                                                 flavour: str) -> None:
    """pip compiles the template's modules when it installs the plugbay wheel (codec.py is
    valid Python); cookiecutter copies the ``__pycache__`` folders it finds."""
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template)
    compileall.compile_dir(str(template), quiet=2, force=True)
    assert any(p.name.startswith("codec.") for p in template.rglob("*.pyc")), "no bytecode"
    render(tmp_path / "out", template=template, provider="acme-cloud", flavour=flavour)


def test_price_table_is_marked_to_fill_in(render: Render, tmp_path: Path) -> None:
    plugin = render(tmp_path, provider="acme-cloud")
    text = (plugin / "src/plugbay_acme_cloud/prices.toml").read_text()
    table = _toml.loads(text)
    assert "TO FILL IN" in text.splitlines()[0]
    assert "TO FILL IN" in table["source"] and table["as_of"]
    assert table.get("models", {}) == {}, "no invented prices: unknown stays None"


def test_readme_carries_the_checklist(render: Render, tmp_path: Path) -> None:
    readme = (render(tmp_path, provider="acme-cloud") / "README.md").read_text()
    sections = readme.split("## Contributor checklist", 1)[1].split("\n### ")[1:]
    found = {}
    for section in sections:
        title, *lines = section.splitlines()
        found[title] = [ln[len("- [ ] "):].split(":")[0] for ln in lines
                        if ln.startswith("- [ ] ")]
    assert found == CHECKLIST


@pytest.mark.skipif(not Path(RUFF).exists(), reason="ruff is not installed")
def test_every_combination_is_lint_clean(render: Render, tmp_path: Path) -> None:
    for flavour, auth, key_env in COMBOS:
        render(tmp_path / f"{flavour}-{auth}-{key_env or 'default'}",
               **values(flavour, auth, key_env))
    # Long names and URLs stay within the line length too.
    render(tmp_path / "long", provider="a" * 30, display_name="D" * 40, base_url="https://"
           + "x" * 67, api_key_env="K" * 40, auth="header", auth_header="H" * 40,
           flavour="custom")
    proc = subprocess.run([RUFF, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


MYPY = Path(sys.executable).parent / "mypy"


@pytest.mark.timeout(300)
@pytest.mark.skipif(not MYPY.exists(), reason="mypy is not installed")
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_plugin_module_is_strictly_typed(render: Render, tmp_path: Path,
                                             flavour: str) -> None:
    for auth in AUTHS:
        plugin = render(tmp_path / auth, provider="acme-cloud", flavour=flavour, auth=auth)
        proc = subprocess.run([str(MYPY), "--strict", "--python-version", "3.10",
                               "--cache-dir", str(tmp_path / "mypy-cache"),
                               "plugbay_acme_cloud"], cwd=plugin / "src",
                              capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, f"{auth}: {proc.stdout}"
