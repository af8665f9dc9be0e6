"""docs/providers/index.md lists every plugin in plugins/, and each has its own page."""

from __future__ import annotations

import re
from pathlib import Path

from plugbay import _toml

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "docs" / "providers" / "index.md"


def installed_plugins() -> dict[str, str]:
    """Entry-point name -> distribution, from every plugin's pyproject.toml."""
    out = {}
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        data = _toml.loads(pyproject.read_text())
        for name in data["project"]["entry-points"]["plugbay"]:
            out[name] = data["project"]["name"]
    return out


def index_rows() -> dict[str, list[str]]:
    rows = {}
    for line in INDEX.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            continue
        match = re.match(r"\[([\w-]+)\]\(([\w-]+)\.md\)", cells[0])
        if match:
            rows[match.group(1)] = cells
    return rows


def test_index_matches_installed_plugins():
    plugins, rows = installed_plugins(), index_rows()
    assert sorted(rows) == sorted(plugins), "docs/providers/index.md is out of step with plugins/"
    for name, dist in plugins.items():
        assert f"`{dist}`" in rows[name][1], f"{name}: package column should be `{dist}`"
        assert len(rows[name]) == 7, f"{name}: expected 7 columns"


def test_every_provider_has_a_page():
    for name in installed_plugins():
        page = ROOT / "docs" / "providers" / f"{name}.md"
        assert page.is_file(), f"missing {page.relative_to(ROOT)}"
        text = page.read_text().lower()
        for section in ("setup", "environment", "troubleshooting"):
            assert section in text, f"{page.name} has no {section} section"
