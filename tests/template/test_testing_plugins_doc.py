"""The examples in docs/testing-plugins.md run: each marked block is a test module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DOC = ROOT / "docs" / "testing-plugins.md"
MARK = re.compile(r"^<!-- test -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_doc_has_runnable_examples() -> None:
    text = DOC.read_text()
    markers = [ln for ln in text.splitlines() if ln.startswith("<!-- test")]
    assert len(markers) == len(MARK.findall(text)) >= 5


@pytest.mark.timeout(120)
def test_the_examples_pass(tmp_path: Path) -> None:
    pytest.importorskip("plugbay_openai", reason="the examples use the reference plugin")
    for i, block in enumerate(MARK.findall(DOC.read_text()), 1):
        (tmp_path / f"test_testing_doc_example_{i}.py").write_text(block)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", os.devnull, "--rootdir", str(tmp_path),
                           "-o", "asyncio_mode=auto", "--import-mode=importlib", "-rs",
                           str(tmp_path)], capture_output=True, text=True, timeout=110,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " failed" not in proc.stdout and " error" not in proc.stdout
    if os.path.isdir(ROOT.parent / "shared" / "corpus"):
        assert "skipped" not in proc.stdout, proc.stdout[-2000:]
