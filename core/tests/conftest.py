"""Shared fixtures for core tests: throwaway plugin modules behind real entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest


@pytest.fixture
def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                ) -> Iterator[Callable[[str, str], metadata.EntryPoint]]:
    """Write a module with ``source`` and return an entry point for provider ``name``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(name: str, source: str) -> metadata.EntryPoint:
        module = f"pbtest_{name.replace('-', '_')}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        made.append(module)
        return metadata.EntryPoint(name=name, value=module, group="plugbay")

    yield make
    for module in made:
        sys.modules.pop(module, None)
