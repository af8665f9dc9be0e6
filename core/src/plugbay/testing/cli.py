"""Run the ``plugbay`` command line as a real subprocess, with a config file written for
the test (for replay tests that read answers through ``complete --json --stream``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CLIResult", "run_cli", "toml_text"]


@dataclass
class CLIResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout as JSON (``--json`` output)."""
        return json.loads(self.stdout)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def toml_text(config: Mapping[str, Any], prefix: str = "") -> str:
    """``config`` as TOML: nested tables of scalars and lists (what test configs hold)."""
    scalars = [f"{k} = {_value(v)}" for k, v in config.items() if not isinstance(v, Mapping)]
    out = []
    if scalars and prefix:
        out.append(f"[{prefix}]")
    out += scalars
    for k, v in config.items():
        if isinstance(v, Mapping):
            name = f"{prefix}.{json.dumps(k)}" if prefix else json.dumps(k)
            out.append(toml_text(v, name))
    return "\n".join(line for line in out if line) + "\n"


def run_cli(args: Sequence[str], config: Mapping[str, Any], folder: Path, *,
            stdin: str | None = None, timeout: float = 60.0) -> CLIResult:
    """``plugbay --config <folder>/plugbay.toml ARGS`` in a fresh interpreter."""
    path = folder / "plugbay.toml"
    path.write_text(toml_text(config))
    env = {**os.environ, "HOME": str(folder)}
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", "--config", str(path), *args],
                          input=stdin, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=folder)
    return CLIResult(proc.returncode, proc.stdout, proc.stderr)
