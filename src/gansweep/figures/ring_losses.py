"""The loss-zoo figure and table of a 2D study: success and failure rate, and mean modes
covered, of every cell at the final checkpoint, one row per loss (presets/ring_losses.yaml).

Drawn from ``summary.parquet`` (and, in the pipeline, ``comparisons.parquet``: '*' marks
cells whose rate differs significantly from the study's baseline). Print the table with

    python -m gansweep.figures.ring_losses results/ring_losses/summary.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt  # noqa: E402  (common has selected the Agg backend)
import numpy as np
import pandas as pd

from gansweep.figures.common import (
    apply_theme,
    epochs_text,
    final_rows,
    num_text,
    palette_of,
    save_figure,
    save_message,
    seeds_text,
    set_title,
)


def cell_name(row: pd.Series, show_lr: bool, show_study: bool) -> str:
    """'non_saturating (αD 1, αG 1)', 'rpgan'; ', lr 2e-4' when lr varies, ' [study]' when
    several studies are shown (e.g. the zoo and its R1 + R2 variant)."""
    text = str(row["objective"])
    if not pd.isna(row.get("alpha_d")):
        text += f" (αD {num_text(float(row['alpha_d']))}, αG {num_text(float(row['alpha_g']))})"
    if show_lr:
        text += f", lr {num_text(float(row['lr']))}"
    if show_study:
        text += f" [{row['study']}]"
    return text


def by_loss(summary: pd.DataFrame) -> pd.DataFrame:
    """Final-checkpoint rows, best success rate first (ties: fewer failures, more modes)."""
    if "study" in summary:  # each study's own last checkpoint
        final = summary[summary["step"] == summary.groupby("study")["step"].transform("max")].copy()
    else:
        final = final_rows(summary).copy()
    for col in ("alpha_d", "alpha_g", "lr"):
        final[col] = pd.to_numeric(final[col], errors="coerce").astype(float)
    show_lr = final["lr"].nunique() > 1
    show_study = "study" in final and final["study"].nunique() > 1
    final["cell"] = [cell_name(r, show_lr, show_study) for _, r in final.iterrows()]
    order = ["success_rate", "failure_rate", "mean_modes", "cell"]
    return final.sort_values(order, ascending=[False, True, False, True]).reset_index(drop=True)


def _checkpoint_text(final: pd.DataFrame) -> str:
    step = int(final["step"].max())
    if "epoch" in final:
        return f"after {epochs_text(float(final['epoch'].median()))} epochs ({step} steps)"
    return f"after {step} steps"


def plot_rates_by_loss(
    summary: pd.DataFrame, stem: Path, comparisons: pd.DataFrame | None = None
) -> None:
    """Success and failure rate (%, Wilson 95 % CI) and mean modes covered (t 95 % CI), one
    horizontal bar per cell, sorted by success rate. With ``comparisons``, '*' marks rates
    that differ significantly from the baseline cell (Fisher exact, Holm p < 0.05)."""
    from gansweep.figures.ring import _cell_key, significant_cells  # ring imports this module

    if summary.empty:
        save_message(stem, "no results to show")
        return
    apply_theme()
    rows = by_loss(summary)
    y = np.arange(len(rows))
    blue, _, green, red = palette_of(4)
    panels = [
        ("success_rate", "success_ci", 100, "success rate (%)", green),
        ("failure_rate", "failure_ci", 100, "failure rate (%)", red),
        ("mean_modes", "mean_modes_ci", 1, "mean modes covered", blue),
    ]
    keys = [_cell_key(r) for _, r in rows.iterrows()]
    marked = {m: significant_cells(comparisons, m) for m in ("success", "failure")}
    height = 0.8 + 0.28 * len(rows)
    fig, axes = plt.subplots(1, 3, figsize=(9.5, height), sharey=True)
    for ax, (col, ci, scale, label, color) in zip(axes, panels):
        value = scale * rows[col].to_numpy(dtype=float)
        low = scale * rows[f"{ci}_low"].to_numpy(dtype=float)
        high = scale * rows[f"{ci}_high"].to_numpy(dtype=float)
        err = np.vstack([value - low, high - value])
        ax.barh(y, value, color=color, alpha=0.85, height=0.7)
        ax.errorbar(value, y, xerr=np.nan_to_num(err), fmt="none", ecolor="0.2", capsize=2, lw=0.8)
        ax.set_xlabel(label)
        metric = col.removesuffix("_rate")
        for yi, key, top in zip(y, keys, high):
            if key in marked.get(metric, ()):
                ax.annotate(
                    "*",
                    (min(top, 100.0), yi),
                    xytext=(2, -1),
                    textcoords="offset points",
                    ha="left",
                    va="center",
                    fontsize=10,
                    color="0.1",
                )
        if scale == 100:
            ax.set_xlim(0, 100)
        else:
            ax.set_xlim(0, max(8.0, float(np.nanmax(high)) * 1.05))
    axes[0].set_yticks(y, rows["cell"])
    axes[0].invert_yaxis()  # best first, at the top
    if "n_diverged" in rows and rows["n_diverged"].sum() > 0:
        for yi, n in zip(y, rows["n_diverged"]):
            if n:
                axes[1].annotate(
                    f"{int(n)} diverged",
                    (100, yi),
                    xytext=(-2, 0),
                    textcoords="offset points",
                    ha="right",
                    va="center",
                    fontsize=6,
                    color="0.3",
                )
    fig.tight_layout()
    star = (
        "; *: differs from the baseline cell (Fisher exact, Holm p < 0.05)"
        if comparisons is not None
        else ""
    )
    set_title(
        fig,
        f"Success and failure rate by loss {_checkpoint_text(rows)}\n"
        f"(bars: Wilson 95 % CI for rates, t 95 % CI for modes; {seeds_text(rows['n_seeds'])}{star})",
    )
    save_figure(fig, stem)


def markdown_table(summary: pd.DataFrame) -> str:
    """The figure's numbers as a Markdown table (best success rate first)."""
    rows = by_loss(summary)

    def pct(v: float) -> str:
        return f"{100 * v:.1f} %"

    lines = [
        "| loss | success | 95 % CI | failure | 95 % CI | mean modes | diverged |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in rows.iterrows():
        lines.append(
            f"| {r['cell']} | {pct(r['success_rate'])} | {100 * r['success_ci_low']:.1f}–{100 * r['success_ci_high']:.1f} % "
            f"| {pct(r['failure_rate'])} | {100 * r['failure_ci_low']:.1f}–{100 * r['failure_ci_high']:.1f} % "
            f"| {r['mean_modes']:.2f} | {int(r.get('n_diverged', 0))}/{int(r['n_seeds'])} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m gansweep.figures.ring_losses SUMMARY.parquet [...]")
    print(markdown_table(pd.concat([pd.read_parquet(p) for p in sys.argv[1:]], ignore_index=True)))
