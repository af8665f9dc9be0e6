"""The PNG chart of the performance page (matplotlib, from the bench ``tools`` venv)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AIOHTTP = "aiohttp (raw)"


def chart(doc: dict[str, Any], d: dict[str, dict[str, float | None]], path: Path) -> None:
    import matplotlib  # type: ignore[import-not-found,unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    names = list(d)
    colour = {"floor": "#9e9e9e", "plugbay": "#2e7d32", "peer": "#1565c0"}
    colours = [colour.get(doc["clients"][n]["kind"], "#1565c0") for n in names]
    panels = [
        ("import_ms", "import time (ms, log)", True),
        ("cold_ms", "cold start to 1st completion (ms, log)", True),
        ("p50_us", "sequential latency p50 (us)", False),
        (
            "chunk_us",
            f"stream overhead per chunk vs floor (us, {doc['plan']['chunks']} chunks)",
            False,
        ),
        ("rps", f"throughput at {doc['plan']['conc']} concurrent (req/s)", False),
        ("rss_load_mb", "RSS after load (MB)", False),
    ]
    floor_p50 = min((d[n]["p50_us"] or 1e12) for n in names if doc["clients"][n]["floor"])
    aio_rps = d.get(AIOHTTP, {}).get("rps")
    lines: dict[str, float | None] = {
        "import_ms": 60.0,
        "cold_ms": 300.0,
        "p50_us": floor_p50 + 100 if floor_p50 < 1e12 else None,
        "chunk_us": 10.0,
        "rps": 0.8 * aio_rps if aio_rps else None,
        "rss_load_mb": 60.0,
    }
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    for ax, (key, title, log) in zip(axes.flat, panels, strict=True):
        if (line := lines.get(key)) is not None:
            ax.axvline(line, color="#c62828", linestyle="--", linewidth=1)
        vals = [d[n][key] for n in names]
        shown = [v if v is not None else 0.0 for v in vals]
        bars = ax.barh(names, shown, color=colours)
        for bar, v in zip(bars, vals, strict=True):
            label = "n/a" if v is None else (f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}")
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                " " + label,
                va="center",
                fontsize=8,
            )
        if log and any(v for v in shown if v > 0):
            ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
        ax.margins(x=0.25)
        if not log:
            ax.set_xlim(left=min(0.0, min(shown)) * 1.5)
    fig.suptitle(
        f"plugbay bench {doc['date']}: grey = raw floors, green = plugbay, "
        "blue = other libraries, red dashes = plugbay's targets",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
