"""What the page says about the machine a bench ran on (Linux /proc, stdlib only)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine(python: Path, pinning: str) -> dict[str, Any]:
    """CPU count and model, memory, kernel, and the clients' Python (``python -VV``)."""
    model, mem_kb = "?", 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    out = subprocess.run([str(python), "-VV"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": out.stdout.strip() or platform.python_version(),
        "loadavg_end": loadavg(),
        "pinning": pinning,
    }
