"""Conventions shared by every figure: theme, atomic PNG + PDF saving, titles, number text."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from gansweep.io import write_bytes  # noqa: E402

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]


DPI = 200


def apply_theme() -> None:
    sns.set_theme(context="paper", style="whitegrid")


def save_figure(fig: plt.Figure, stem: Path) -> None:
    """Write stem.png and stem.pdf atomically (gansweep.io.write_bytes), then close the figure."""
    stem = Path(stem)
    try:
        for fmt in ("png", "pdf"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=DPI, bbox_inches="tight")
            write_bytes(buffer.getvalue(), stem.with_suffix(f".{fmt}"))
    finally:
        plt.close(fig)


def set_title(fig: plt.Figure, text: str) -> None:
    """Figure title just above the laid-out axes (call after tight_layout; the tight bbox keeps it)."""
    fig.suptitle(text, y=1.0, va="bottom")


def save_message(stem: Path, message: str) -> None:
    """Placeholder figure, so a pipeline rule still gets its outputs."""
    apply_theme()
    fig, ax = plt.subplots(figsize=(4, 1.5))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    save_figure(fig, stem)


def num_text(value: float) -> str:
    """Tick and legend text of a number; α = ∞ (a valid α-loss) reads "∞", not "inf"."""
    if value == float("inf"):
        return "∞"
    if value == float("-inf"):
        return "−∞"
    return f"{value:g}"


def pretty_objective(objective: str) -> str:
    return str(objective).replace("_", "-")


def final_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows at the last checkpoint (all cells of a study share the checkpoint grid)."""
    return summary[summary["step"] == summary["step"].max()]


def epochs_text(epoch: float) -> str:
    return f"{epoch:.2g}" if epoch < 1 else f"{round(epoch, 1):g}"


def seeds_text(counts: pd.Series) -> str:
    """'n = 16 seeds per cell' (or a range when cells differ)."""
    lo, hi = int(counts.min()), int(counts.max())
    return f"n = {lo} seeds per cell" if lo == hi else f"n = {lo}–{hi} seeds per cell"


def palette_of(n: int) -> list:
    return sns.color_palette("colorblind" if n <= 10 else "husl", n)
