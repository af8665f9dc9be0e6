"""The batch runner's progress bar: done/failed/total, rate, ETA and cost so far.

Drawn by tqdm (chosen by measurement, see core/pyproject.toml) on stderr, and only
when stderr is a terminal: the library prints nothing otherwise. tqdm is imported
when a bar is shown, never by ``import plugbay``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "make_progress"]


class Progress:
    """A tqdm bar, redrawn at most 5x a second. ``update`` per finished item only counts
    it; at a redraw the postfix (failures, cost, in flight) and the count move together,
    so a frame never shows one item's count beside another's figures."""

    def __init__(self, total: int | None, initial: int, out: TextIO) -> None:
        import importlib

        tqdm = importlib.import_module("tqdm").tqdm  # untyped (no stubs): used through Any
        # tqdm draws at every update() call: this class makes one per redraw
        self._bar: Any = tqdm(total=total, initial=initial, file=out, unit="req",
                              dynamic_ncols=True, mininterval=0, miniters=1, smoothing=0.1,
                              desc="batch")
        self._next = 0.0
        self._pending = 0  # items counted since the last redraw
        self._figures: tuple[int, float, int, int] = (0, 0.0, 0, 0)

    def update(self, done: int, failed: int, cost: float, unpriced: int,
               window: int) -> None:
        self._pending += 1
        self._figures = (failed, cost, unpriced, window)
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 0.2
            self._draw()

    def _draw(self) -> None:
        failed, cost, unpriced, window = self._figures
        money = f"${cost:.4f}" + (f" (+{unpriced} unpriced)" if unpriced else "")
        self._bar.set_postfix_str(f"failed {failed}, {money}, in flight {window}",
                                  refresh=False)
        self._bar.update(self._pending)  # draws the count and the postfix at once
        self._pending = 0

    def close(self) -> None:
        if self._pending:
            self._draw()
        self._bar.close()


def make_progress(enabled: bool, total: int | None, initial: int = 0,
                  out: TextIO | None = None) -> Progress | None:
    """A bar when ``enabled`` and ``out`` (stderr) is a terminal, else ``None``."""
    out = out or sys.stderr
    if not enabled or not getattr(out, "isatty", lambda: False)():
        return None
    return Progress(total, initial, out)
