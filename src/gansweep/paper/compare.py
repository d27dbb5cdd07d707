"""Our ring results next to the paper's published Tables I–III and Fig. 2(b)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gansweep.tables import final_checkpoint

PAPER_RING_CSV = Path(__file__).with_name("alpha_gan_ring.csv")


def load_paper_ring(path: Path = PAPER_RING_CSV) -> pd.DataFrame:
    return pd.read_csv(path, comment="#")


def _alpha_key(values: pd.Series) -> pd.Series:
    # Cells without α (lsgan) match on a sentinel; floats match after rounding.
    return values.astype(float).round(6).fillna(-1.0)


def compare_with_paper(summary: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per paper number whose cell we ran (ring dataset, final checkpoint): the
    paper's percentage, ours with its Wilson 95 % CI, and whether the paper's value lies
    inside our CI. ``protocol`` says whether our run length matches the paper's 400 epochs;
    short runs are early-training results, not a reproduction of the paper's numbers."""
    paper = load_paper_ring() if paper is None else paper
    ours = final_checkpoint(summary[summary["dataset"] == "ring"]).copy()
    columns = [
        "source", "objective", "alpha_d", "alpha_g", "metric", "paper_pct", "paper_n_seeds",
        "paper_epochs", "study", "lr", "step", "epoch", "n_seeds", "ours_pct",
        "ours_ci_low_pct", "ours_ci_high_pct", "paper_inside_ci", "protocol",
    ]  # fmt: skip
    if ours.empty:
        return pd.DataFrame(columns=columns)
    for frame in (ours, paper):
        frame["ad_key"], frame["ag_key"] = _alpha_key(frame["alpha_d"]), _alpha_key(frame["alpha_g"])
    merged = paper.drop(columns=["alpha_d", "alpha_g"]).merge(
        ours, on=["objective", "ad_key", "ag_key"], how="inner"
    )
    rows = []
    for _, r in merged.iterrows():
        metric = r["metric"]  # success_rate | failure_rate
        outcome = metric.removesuffix("_rate")
        low, high = 100 * r[f"{outcome}_ci_low"], 100 * r[f"{outcome}_ci_high"]
        rows.append({
            "source": r["source"], "objective": r["objective"],
            "alpha_d": r["alpha_d"], "alpha_g": r["alpha_g"], "metric": metric,
            "paper_pct": r["value_pct"], "paper_n_seeds": r["n_seeds_x"],
            "paper_epochs": r["epochs"], "study": r["study"], "lr": r["lr"],
            "step": r["step"], "epoch": r["epoch"], "n_seeds": r["n_seeds_y"],
            "ours_pct": 100 * r[metric], "ours_ci_low_pct": low, "ours_ci_high_pct": high,
            "paper_inside_ci": bool(low <= r["value_pct"] <= high),
            "protocol": "paper length" if np.isclose(r["epoch"], r["epochs"])
            else f"early training: {r['epoch']:.1f} of {r['epochs']} epochs",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
