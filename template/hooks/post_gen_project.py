"""Trim the rendered plugin to its flavour and place it in (or out of) the repository.

Runs as a script in the new plugin's directory:
- no compiled Python: pip compiles the template's modules when it installs the plugbay
  wheel, and cookiecutter would copy those ``__pycache__`` folders into the plugin;
- ``openai-compatible`` plugins have no codec module of their own;
- inside the plugbay repository (output ``<repo>/plugins``) the docs page moves to
  ``<repo>/docs/providers/<name>.md`` like every other plugin's; elsewhere it stays in
  the plugin's ``docs/`` and the uv workspace source is removed from pyproject.toml.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

WORKSPACE_NAME = re.compile(r'^name\s*=\s*"plugbay-workspace"', re.MULTILINE)
UV_SOURCES = re.compile(r"\n\[tool\.uv\.sources\]\n[^\[]*", re.MULTILINE)
STANDALONE = """
[dependency-groups]
dev = ["pytest>=8.3", "pytest-asyncio>=0.24", "pytest-timeout>=2.3"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
addopts = "-ra --import-mode=importlib"
"""


def find_workspace(start: Path) -> Path | None:
    for parent in (start, *start.parents):
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file() and WORKSPACE_NAME.search(pyproject.read_text("utf-8")):
            return parent
    return None


def remove_bytecode(here: Path) -> None:
    for cache in sorted(here.rglob("__pycache__")):
        shutil.rmtree(cache)
    for stray in here.rglob("*.py[co]"):
        stray.unlink()


def main(provider: str, module: str, flavour: str) -> int:
    here = Path.cwd().resolve()
    remove_bytecode(here)
    if flavour != "custom":
        (here / "src" / module / "codec.py").unlink()
    root = find_workspace(here.parent)
    page = here / "docs" / f"{provider}.md"
    if root is not None and here.parent == (root / "plugins").resolve():
        target = root / "docs" / "providers" / f"{provider}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(page), str(target))
        (here / "docs").rmdir()
    else:
        # Outside the workspace there is no `plugbay = { workspace = true }` to resolve,
        # and no workspace pytest settings: the plugin carries its own.
        pyproject = here / "pyproject.toml"
        text = UV_SOURCES.sub("\n", pyproject.read_text("utf-8")).rstrip()
        pyproject.write_text(text + "\n" + STANDALONE, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main("{{ cookiecutter.provider }}", "{{ cookiecutter.__module }}",
                  "{{ cookiecutter.flavour }}"))
