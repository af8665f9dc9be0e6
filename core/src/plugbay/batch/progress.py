"""The batch runner's progress bar: done/failed/total, rate, ETA and cost so far.

Drawn by tqdm (chosen by measurement, see core/pyproject.toml) on stderr, and only
when stderr is a terminal: the library prints nothing otherwise. tqdm is imported
when a bar is shown, never by ``import plugbay``.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["Progress", "make_progress"]


class Progress:
    """A tqdm bar; ``update`` per finished item. The postfix (failures, cost, in flight)
    is set before the count moves, so a frame never shows the previous item's figures;
    tqdm redraws at most 5x a second."""

    def __init__(self, total: int | None, initial: int, out: TextIO) -> None:
        import importlib

        tqdm = importlib.import_module("tqdm").tqdm  # untyped (no stubs): used through Any
        self._bar: Any = tqdm(total=total, initial=initial, file=out, unit="req",
                              dynamic_ncols=True, mininterval=0.2, smoothing=0.1,
                              desc="batch")

    def update(self, done: int, failed: int, cost: float, unpriced: int,
               window: int) -> None:
        money = f"${cost:.4f}" + (f" (+{unpriced} unpriced)" if unpriced else "")
        self._bar.set_postfix_str(f"failed {failed}, {money}, in flight {window}",
                                  refresh=False)  # a plain assignment: drawn by update
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def make_progress(enabled: bool, total: int | None, initial: int = 0,
                  out: TextIO | None = None) -> Progress | None:
    """A bar when ``enabled`` and ``out`` (stderr) is a terminal, else ``None``."""
    out = out or sys.stderr
    if not enabled or not getattr(out, "isatty", lambda: False)():
        return None
    return Progress(total, initial, out)
