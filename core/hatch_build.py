"""Build hook: ship the repository's plugin template inside plugbay.

From the source tree the template is ``../template``; inside an sdist it is ``template``.
The wheel installs it as ``plugbay/_template`` for ``plugbay new-plugin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class TemplateHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        for candidate in (root.parent / "template", root / "template"):
            if (candidate / "cookiecutter.json").is_file():
                target = "plugbay/_template" if self.target_name == "wheel" else "template"
                build_data["force_include"][str(candidate)] = target
                return
        raise RuntimeError("plugbay build: the plugin template (../template) is missing")
