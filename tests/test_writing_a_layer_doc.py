"""The example in docs/writing-a-layer.md runs: each marked block is a test module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "writing-a-layer.md"
MARK = re.compile(r"^<!-- test -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_doc_has_a_runnable_example() -> None:
    text = DOC.read_text()
    markers = [ln for ln in text.splitlines() if ln.startswith("<!-- test")]
    assert len(markers) == len(MARK.findall(text)) >= 1


@pytest.mark.timeout(120)
def test_the_example_passes(tmp_path: Path) -> None:
    pytest.importorskip("plugbay_openai", reason="the example uses the reference plugin")
    for i, block in enumerate(MARK.findall(DOC.read_text()), 1):
        (tmp_path / f"test_layer_doc_example_{i}.py").write_text(block)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", os.devnull, "--rootdir", str(tmp_path),
                           "-o", "asyncio_mode=auto", "--import-mode=importlib", "-rs",
                           str(tmp_path)], capture_output=True, text=True, timeout=110,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
