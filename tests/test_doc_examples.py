"""The examples in the docs run: each block marked ``<!-- test -->`` is a test module,
and a doc's blocks run together as one pytest session in an empty folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"^<!-- test -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
CORPUS = ROOT.parent / "shared" / "corpus"

# doc, at least this many blocks, whether a skip fails the run when the corpus is here
DOCS = [("writing-a-layer.md", 1, False), ("testing-plugins.md", 5, True)]


@pytest.mark.parametrize(("doc", "least"), [(d, n) for d, n, _ in DOCS])
def test_the_doc_has_runnable_examples(doc: str, least: int) -> None:
    text = (ROOT / "docs" / doc).read_text()
    markers = [ln for ln in text.splitlines() if ln.startswith("<!-- test")]
    assert len(markers) == len(MARK.findall(text)) >= least


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("doc", "strict"), [(d, s) for d, _, s in DOCS])
def test_the_examples_pass(tmp_path: Path, doc: str, strict: bool) -> None:
    pytest.importorskip("plugbay_openai", reason="the examples use the reference plugin")
    stem = doc.removesuffix(".md").replace("-", "_")
    for i, block in enumerate(MARK.findall((ROOT / "docs" / doc).read_text()), 1):
        (tmp_path / f"test_{stem}_example_{i}.py").write_text(block)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", os.devnull, "--rootdir", str(tmp_path),
                           "-o", "asyncio_mode=auto", "--import-mode=importlib", "-rs",
                           str(tmp_path)], capture_output=True, text=True, timeout=110,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
    assert " failed" not in proc.stdout and " error" not in proc.stdout
    if strict and CORPUS.is_dir():
        assert "skipped" not in proc.stdout, proc.stdout[-2000:]
