"""Aggregation: per-job tables → runs.parquet, and per-cell summaries with confidence intervals."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

CELL = ["study", "dataset", "objective", "alpha_d", "alpha_g", "lr"]
CHECKPOINT = CELL + ["step", "epoch"]
RUN_COLUMNS = CHECKPOINT + [
    "seed", "modes_covered", "hq_fraction", "kl", "rkl", "jsd", "tvd",
    "success", "failure", "status",
]  # fmt: skip


def collect_runs(paths: Iterable[str]) -> pd.DataFrame:
    """Concatenate per-job tables; one row per (cell, seed, checkpoint)."""
    frames = [pd.read_parquet(p) for p in paths]
    runs = pd.concat(frames, ignore_index=True)
    missing = [c for c in RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"job tables lack columns {missing}")
    for col in ("alpha_d", "alpha_g"):
        runs[col] = runs[col].astype(float)
    key = CHECKPOINT + ["seed"]
    dupes = runs.duplicated(key)
    if dupes.any():
        raise ValueError(f"{int(dupes.sum())} duplicate (cell, seed, checkpoint) rows")
    ordered = RUN_COLUMNS + [c for c in runs.columns if c not in RUN_COLUMNS]
    return runs[ordered].sort_values(key, ignore_index=True)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (scipy's implementation)."""
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(level, method="wilson")
    return float(ci.low), float(ci.high)


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval for a mean over seeds."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        m = float(values.mean()) if len(values) else float("nan")
        return m, m
    lo, hi = stats.t.interval(level, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return float(lo), float(hi)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell and checkpoint: seed count, success / failure rates with Wilson 95 % CIs,
    mean modes covered with a t 95 % CI, mean HQ fraction, diverged count."""
    rows = []
    for key, g in runs.groupby(CHECKPOINT, dropna=False, sort=True):
        n = len(g)
        row = dict(zip(CHECKPOINT, key))
        row["n_seeds"] = n
        for outcome in ("success", "failure"):
            k = int(g[outcome].sum())
            low, high = wilson_interval(k, n)
            row.update({f"n_{outcome}": k, f"{outcome}_rate": k / n,
                        f"{outcome}_ci_low": low, f"{outcome}_ci_high": high})  # fmt: skip
        row["mean_modes"] = float(g["modes_covered"].mean())
        row["mean_modes_ci_low"], row["mean_modes_ci_high"] = t_interval(g["modes_covered"])
        row["mean_hq_fraction"] = float(g["hq_fraction"].mean())
        row["n_diverged"] = int((g["status"] == "diverged").sum())
        rows.append(row)
    return pd.DataFrame(rows)


def final_checkpoint(table: pd.DataFrame) -> pd.DataFrame:
    """Rows at each study's last evaluated step."""
    last = table.groupby("study")["step"].transform("max")
    return table[table["step"] == last]


# ---- image studies ------------------------------------------------------------------------
IMAGE_CELL = ["study", "dataset", "cell", "architecture", "objective", "alpha_d", "alpha_g", "lr_d", "lr_g"]


def with_diverged_runs(evals: pd.DataFrame, train_runs: pd.DataFrame) -> pd.DataFrame:
    """Add a NaN-FID row, status "diverged", for every checkpoint a diverged run never
    reached, so that summaries count it instead of silently averaging the survivors."""
    steps = evals.groupby("cell")[["step", "epoch"]].apply(lambda g: g.drop_duplicates("step"))
    steps = steps.reset_index(level=0).reset_index(drop=True)
    missing = []
    for _, run in train_runs[train_runs["status"] == "diverged"].iterrows():
        for _, ck in steps[steps["cell"] == run["cell"]].iterrows():
            done = (evals["cell"] == run["cell"]) & (evals["seed"] == run["seed"]) & (evals["step"] == ck["step"])
            if not done.any():
                row = {k: run[k] for k in IMAGE_CELL if k in run}
                missing.append({**row, "seed": run["seed"], "step": ck["step"], "epoch": ck["epoch"],
                                "status": "diverged", "diverged_step": run["diverged_step"],
                                "fid": float("nan")})  # fmt: skip
    if not missing:
        return evals
    return pd.concat([evals, pd.DataFrame(missing)], ignore_index=True)


def summarize_fid(runs: pd.DataFrame, metric: str = "fid") -> pd.DataFrame:
    """Per cell and checkpoint: seeds, finished seeds, mean / std / median FID and a t 95 %
    interval over the seeds whose FID is finite."""
    rows = []
    for key, g in runs.groupby(IMAGE_CELL + ["step"], dropna=False, sort=True):
        values = g[metric].to_numpy(dtype=float)
        ok = values[np.isfinite(values)]
        row = dict(zip(IMAGE_CELL + ["step"], key))
        row.update({"epoch": float(g["epoch"].max()), "n_seeds": len(g), "n_ok": len(ok)})
        row[f"{metric}_mean"] = float(ok.mean()) if len(ok) else float("nan")
        row[f"{metric}_std"] = float(ok.std(ddof=1)) if len(ok) > 1 else float("nan")
        row[f"{metric}_median"] = float(np.median(ok)) if len(ok) else float("nan")
        low, high = t_interval(ok) if len(ok) else (float("nan"), float("nan"))
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
        rows.append(row)
    return pd.DataFrame(rows)
