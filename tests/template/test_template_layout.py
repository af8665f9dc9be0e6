"""The generated plugin has the layout of the plugins in plugins/, so the two cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT, Render, files_under

PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
# Every plugin has these (<n> = the module suffix); the template generates them all.
SKELETON = {"pyproject.toml", "README.md", "src/plugbay_<n>/__init__.py",
            "tests/test_<n>_conformance.py", "tests/test_<n>_quirks.py"}
# Generated too, but a local server or a gateway has no prices of its own to ship.
PRICED = "src/plugbay_<n>/prices.toml"
# Only for providers with recordings in ../shared/corpus (see docs/writing-a-plugin.md), and
# for those that also speak the OpenAI Responses API (openai_compat.ResponsesCapable).
OPTIONAL = {"tests/test_<n>_replay.py", "tests/test_<n>_responses.py"}


def normalised(plugin: Path, slug: str) -> set[str]:
    """The plugin's files with its module suffix replaced by ``<n>``."""
    return {re.sub(rf"(?<=[_/]){re.escape(slug)}(?=[_/.])", "<n>", f)
            for f in files_under(plugin)}


def test_openai_compatible_matches_the_reference_plugin(render: Render,
                                                        workspace: Path) -> None:
    generated = normalised(render(workspace / "plugins", provider="acme-cloud"), "acme_cloud")
    reference = normalised(ROOT / "plugins" / "openai", "openai")
    assert generated == reference - OPTIONAL
    assert generated == SKELETON | {PRICED}


def test_custom_matches_a_native_plugin(render: Render, workspace: Path) -> None:
    generated = normalised(render(workspace / "plugins", provider="acme-cloud",
                                  flavour="custom"), "acme_cloud")
    reference = normalised(ROOT / "plugins" / "cohere", "cohere")
    assert generated == reference - OPTIONAL
    assert generated == SKELETON | {PRICED, "src/plugbay_<n>/codec.py"}


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_every_plugin_has_the_skeleton(plugin: Path) -> None:
    files = normalised(plugin, plugin.name.replace("-", "_"))
    assert files >= SKELETON, f"{plugin.name} lacks {sorted(SKELETON - files)}"


def test_priced_plugins_are_most_plugins() -> None:
    # Guards the PRICED exception: it is for local servers and gateways, not the rule.
    priced = [p for p in PLUGINS if (p / PRICED.replace("plugbay_<n>", "plugbay_" + p.name
                                                        .replace("-", "_"))).is_file()]
    assert len(priced) >= len(PLUGINS) * 2 // 3
