"""Aggregation: per-job tables → runs.parquet, and per-cell summaries with confidence intervals."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from gansweep.errors import InputError
from gansweep.io import check_columns, read_table

CELL = ["study", "dataset", "objective", "alpha_d", "alpha_g", "lr"]
CHECKPOINT = CELL + ["step", "epoch"]
RUN_COLUMNS = CHECKPOINT + [
    "seed",
    "modes_covered",
    "hq_fraction",
    "kl",
    "rkl",
    "jsd",
    "tvd",
    "success",
    "failure",
    "status",
]


# Run settings that define the training protocol (written by training/ring.py into every
# row). The summary carries them per cell so that the paper comparison can check each one.
PROTOCOL = [
    "g_hidden",
    "g_width",
    "d_hidden",
    "d_width",
    "batch_size",
    "steps_total",
    "n_train",
    "n_eval_samples",
    "data_seed",
    "fresh_noise",
    "beta1",
    "beta2",
    "r1_gamma",
    "r2_gamma",
    "dtype",
]


class TableKind:
    """A kind of table the commands read: what to call it and the columns it must have."""

    def __init__(self, what: str, columns: list[str], empty_ok: bool = False):
        self.what, self.columns, self.empty_ok = what, columns, empty_ok

    def read(self, path: str | Path) -> pd.DataFrame:
        return read_table(path, self.columns, self.what, self.empty_ok)

    def check(self, table: pd.DataFrame, path: str | Path) -> None:
        check_columns(table, path, self.columns, self.what, self.empty_ok)


class CorruptJobTable(InputError):
    """A per-job table that cannot be read (truncated or corrupt); it has been moved aside."""

    def __init__(self, message: str):
        super().__init__(None, message)


def read_job_table(path: str | Path) -> pd.DataFrame:
    """Read one per-job parquet table. A file that does not parse (a job killed while the
    filesystem lost its tail, a disk full, a bad copy) is moved aside to ``<file>.corrupt``,
    so that the next Snakemake run sees it missing and retrains that job instead of failing
    here forever; the error names the file and the command to run."""
    path = Path(path)
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as err:
        if not path.exists():
            raise
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        raise CorruptJobTable(
            f"per-job table {path} is truncated or corrupt ({type(err).__name__}: {err}); "
            f"moved it to {aside}. Run the same snakemake command again: it rebuilds {path} "
            f"(its training job runs again) and then aggregates. To rebuild it by hand: "
            f"snakemake --forcerun {path} <your usual options>."
        ) from err


def collect_runs(paths: Iterable[str]) -> pd.DataFrame:
    """Concatenate per-job tables; one row per (cell, seed, checkpoint). Every unreadable
    table is moved aside and named before failing (see ``read_job_table``)."""
    frames, bad = [], []
    for p in paths:
        if not Path(p).is_file() or Path(p).suffix != ".parquet":
            # a wrong path or a file that is no job table: named, never moved aside
            frames.append(TABLES["job"].read(p))
            continue
        try:
            frames.append(read_job_table(p))
        except CorruptJobTable as err:
            bad.append(str(err))
            continue
        TABLES["job"].check(frames[-1], p)
    if bad:
        raise CorruptJobTable("\n".join(bad))
    runs = pd.concat(frames, ignore_index=True)
    for col in ("alpha_d", "alpha_g"):
        runs[col] = runs[col].astype(float)
    key = CHECKPOINT + ["seed"]
    dupes = runs.duplicated(key)
    if dupes.any():
        first = dict(zip(key, runs.loc[dupes.idxmax(), key]))
        raise InputError(
            "job tables",
            f"{int(dupes.sum())} duplicate (cell, seed, checkpoint) rows, the first {first}: "
            "is a table given twice?",
        )
    ordered = RUN_COLUMNS + [c for c in runs.columns if c not in RUN_COLUMNS]
    return runs[ordered].sort_values(key, ignore_index=True)


# The tables the commands read, by kind, with the columns their readers use: a file of the
# wrong kind fails on reading with one line naming what it lacks (gansweep.io.read_table),
# not with a KeyError deep in a figure. Image kinds are defined below IMAGE_CELL.
TABLES: dict[str, TableKind] = {
    "job": TableKind("per-job table (results/<study>/jobs/<job>.parquet)", RUN_COLUMNS),
    "runs": TableKind("runs table (runs.parquet)", RUN_COLUMNS),
    "summary": TableKind(
        "summary table (summary.parquet)",
        CHECKPOINT
        + [
            "n_seeds",
            "n_success",
            "n_failure",
            "success_rate",
            "failure_rate",
        ],
    ),
    # A job without scatter seeds writes an empty samples table (no columns).
    "samples": TableKind(
        "samples table (samples/<job>.parquet)",
        ["study", "objective", "lr", "alpha_d", "alpha_g", "seed", "step", "x", "y"],
        empty_ok=True,
    ),
    # Comparisons of a study set without any cell are an empty table (no columns).
    "comparisons": TableKind(
        "comparisons table (comparisons.parquet)",
        ["study", "metric", "is_baseline", "n", "value", "baseline_value", "p_holm", "significant"],
        empty_ok=True,
    ),
}


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
            row.update(
                {
                    f"n_{outcome}": k,
                    f"{outcome}_rate": k / n,
                    f"{outcome}_ci_low": low,
                    f"{outcome}_ci_high": high,
                }
            )
        row["mean_modes"] = float(g["modes_covered"].mean())
        row["mean_modes_ci_low"], row["mean_modes_ci_high"] = t_interval(g["modes_covered"])
        row["mean_hq_fraction"] = float(g["hq_fraction"].mean())
        row["n_diverged"] = int((g["status"] == "diverged").sum())
        row.update(_protocol_of(g, key))
        rows.append(row)
    return pd.DataFrame(rows)


def _protocol_of(rows: pd.DataFrame, key: tuple) -> dict:
    """The cell's protocol fields (those recorded); one value per cell, or an error."""
    out = {}
    for col in PROTOCOL:
        if col not in rows:
            continue
        values = rows[col].dropna().unique()
        if len(values) > 1:
            raise ValueError(
                f"cell {dict(zip(CHECKPOINT, key))} mixes {col} values {sorted(values)}"
            )
        out[col] = values[0] if len(values) else None
    return out


def final_checkpoint(table: pd.DataFrame) -> pd.DataFrame:
    """Rows at each study's last evaluated step."""
    last = table.groupby("study")["step"].transform("max")
    return table[table["step"] == last]


# ---- image studies ------------------------------------------------------------------------
IMAGE_CELL = [
    "study",
    "dataset",
    "cell",
    "architecture",
    "objective",
    "alpha_d",
    "alpha_g",
    "lr_d",
    "lr_g",
]


TABLES.update(
    {
        "image_evals": TableKind(
            "image evaluation table (eval/<cell>/<job>.parquet)",
            IMAGE_CELL + ["seed", "step", "epoch"],
        ),
        "image_train_runs": TableKind(
            "image training runs table (train_runs.parquet, a job's runs.parquet)",
            IMAGE_CELL + ["seed", "step", "epoch", "status", "diverged_step"],
        ),
        "image_runs": TableKind(
            "image runs table (runs.parquet)", IMAGE_CELL + ["seed", "step", "epoch", "status"]
        ),
        "image_summary": TableKind(
            "image summary table (summary.parquet)",
            IMAGE_CELL + ["step", "epoch", "n_seeds", "n_ok"],
        ),
        # A job whose seeds never reach a logged step writes empty logs (no columns).
        "image_train_log": TableKind(
            "image training log (train_log.parquet)", ["cell", "seed", "step", "epoch"], True
        ),
        "image_train_grads": TableKind(
            "image gradient table (train_grads.parquet)",
            ["cell", "seed", "step", "epoch", "layer", "grad_norm"],
            True,
        ),
    }
)


def with_diverged_runs(evals: pd.DataFrame, train_runs: pd.DataFrame) -> pd.DataFrame:
    """Add a NaN-FID row, status "diverged", for every checkpoint a diverged run never
    reached, so that summaries count it instead of silently averaging the survivors."""
    steps = evals.groupby("cell")[["step", "epoch"]].apply(lambda g: g.drop_duplicates("step"))
    steps = steps.reset_index(level=0).reset_index(drop=True)
    missing = []
    for _, run in train_runs[train_runs["status"] == "diverged"].iterrows():
        for _, ck in steps[steps["cell"] == run["cell"]].iterrows():
            done = (
                (evals["cell"] == run["cell"])
                & (evals["seed"] == run["seed"])
                & (evals["step"] == ck["step"])
            )
            if not done.any():
                row = {k: run[k] for k in IMAGE_CELL if k in run}
                missing.append(
                    {
                        **row,
                        "seed": run["seed"],
                        "step": ck["step"],
                        "epoch": ck["epoch"],
                        "status": "diverged",
                        "diverged_step": run["diverged_step"],
                        "fid": float("nan"),
                    }
                )
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
