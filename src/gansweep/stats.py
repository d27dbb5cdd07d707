"""Is a difference real? Each cell against its study's baseline cell, and seed planning.

Ring studies (success / failure rates over seeds, from summary.parquet):
  * difference of proportions (cell − baseline) with Newcombe's hybrid score 95 % interval
    (Newcombe 1998, method 10; statsmodels ``confint_proportions_2indep(method="newcomb")``);
  * Fisher's exact two-sided p (scipy);
  * Holm-adjusted p across the study: one family per metric (all cells' success-rate tests
    form one family, the failure-rate tests another), statsmodels ``multipletests``.
Image studies (FID over seeds at each cell's last checkpoint, from runs.parquet):
  * difference of mean FID with Welch's t 95 % interval and p (scipy), over the finite FIDs;
  * Mann–Whitney U two-sided p (scipy), with diverged runs (NaN FID) ranked worst (+∞),
    so a cell does not look better by losing its failed seeds;
  * Holm per test across the study.
Seed planning: success rates, exact power of the Fisher test above (``gansweep.power``);
FID: Welch/Student t power for a standardised difference d (statsmodels ``TTestIndPower``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import confint_proportions_2indep

from gansweep.errors import GansweepError
from gansweep.power import detectable_rates, power_at, seeds_needed

LEVEL = 0.95
ALPHA = 1 - LEVEL
# The paper's headline contrast (Welfert et al.): vanilla 46.5 % vs (0.3, 1)-GAN 87 % success.
PAPER_CONTRAST = (0.465, 0.87)
VANILLA_ORDER = ("non_saturating", "saturating")  # α = 1 of these is the vanilla GAN


class BaselineError(GansweepError, ValueError):
    """The configured baseline names no cell of the study."""


# --------------------------------------------------------------------------- baselines
@dataclass(frozen=True)
class CellKeys:
    """Columns that identify a cell, and the learning-rate columns 'same lr' compares."""

    cell: tuple[str, ...]
    lr: tuple[str, ...]


RING_KEYS = CellKeys(("objective", "alpha_d", "alpha_g", "lr"), ("lr",))
IMAGE_KEYS = CellKeys(("cell", "objective", "alpha_d", "alpha_g", "lr_d", "lr_g"), ("lr_d", "lr_g"))


def _close(a, b) -> bool:
    if pd.isna(a) or pd.isna(b):
        return pd.isna(a) and pd.isna(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9)


def _alpha_is(row, value: float) -> bool:
    return _close(row["alpha_d"], value) and _close(row["alpha_g"], value)


def _same_lr(a, b, keys: CellKeys) -> bool:
    return all(_close(a[k], b[k]) for k in keys.lr)


def baseline_index(
    cells: pd.DataFrame, keys: CellKeys, baseline: dict | None, study: str
) -> list[int]:
    """For each row of ``cells`` (one row per cell, in study order), the row index of its
    baseline cell.

    ``baseline`` (the study's config key) names a cell: ``objective`` and, for α objectives,
    ``alpha_d`` / ``alpha_g`` (default 1); with ``lr`` the baseline is that one cell, without
    it the named cell at the compared cell's lr (else at the first lr it was run at). No
    baseline: the vanilla GAN at the same lr (αD = αG = 1 of the cell's own objective, else
    of non-saturating, else of saturating), else the study's first cell.
    """
    rows = [r for _, r in cells.iterrows()]
    if baseline:
        named = [
            i
            for i, r in enumerate(rows)
            if r["objective"] == baseline["objective"]
            and _close(
                r["alpha_d"], baseline.get("alpha_d", 1.0) if not pd.isna(r["alpha_d"]) else np.nan
            )
            and _close(
                r["alpha_g"], baseline.get("alpha_g", 1.0) if not pd.isna(r["alpha_g"]) else np.nan
            )
        ]
        if "lr" in baseline:
            named = [i for i in named if all(_close(rows[i][k], baseline["lr"]) for k in keys.lr)]
        if not named:
            have = "; ".join(_cell_text(r, keys) for r in rows)
            raise BaselineError(
                f"studies.{study}.baseline: {baseline} is not a cell of study {study!r}; "
                f"its cells are: {have}"
            )
        return [next((i for i in named if _same_lr(rows[i], r, keys)), named[0]) for r in rows]

    out = []
    for r in rows:
        same_lr = [i for i, b in enumerate(rows) if _same_lr(b, r, keys) and _alpha_is(b, 1.0)]
        pick = [i for i in same_lr if rows[i]["objective"] == r["objective"]]
        for objective in VANILLA_ORDER:
            pick = pick or [i for i in same_lr if rows[i]["objective"] == objective]
        out.append(pick[0] if pick else 0)
    return out


def _cell_text(row, keys: CellKeys) -> str:
    parts = [str(row["objective"])]
    for k in keys.cell:
        if k not in ("objective", "cell") and not pd.isna(row[k]):
            parts.append(f"{k}={float(row[k]):g}")
    return " ".join(parts)


def _with_significance(families: list[pd.DataFrame]) -> pd.DataFrame:
    """The studies' comparison tables as one, with ``significant`` = Holm p < α."""
    table = pd.concat(families, ignore_index=True) if families else pd.DataFrame()
    if len(table):
        table["significant"] = table["p_holm"] < ALPHA
    return table


def _holm(p: pd.Series) -> pd.Series:
    """Holm step-down adjusted p; NaN (the baseline itself, untestable cells) stays NaN."""
    out = pd.Series(np.nan, index=p.index)
    ok = p.notna()
    if ok.any():
        out[ok] = multipletests(p[ok].to_numpy(float), alpha=ALPHA, method="holm")[1]
    return out


def _final_per_study(table: pd.DataFrame) -> pd.DataFrame:
    last = table.groupby("study")["step"].transform("max")
    return table[table["step"] == last]


# --------------------------------------------------------------------------- ring
def difference_of_proportions(k1: int, n1: int, k0: int, n0: int) -> dict:
    """Cell (k1 of n1) minus baseline (k0 of n0): difference, Newcombe 95 % CI, Fisher p."""
    low, high = confint_proportions_2indep(
        k1, n1, k0, n0, method="newcomb", compare="diff", alpha=ALPHA
    )
    p = stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="two-sided").pvalue
    return {
        "difference": k1 / n1 - k0 / n0,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(p),
    }


def compare_rates(
    summary: pd.DataFrame, baselines: dict[str, dict | None] | None = None
) -> pd.DataFrame:
    """Per ring study, at its final checkpoint: every cell's success and failure rate against
    its baseline cell (one row per cell and metric; the baseline's own row has NaN tests)."""
    baselines = baselines or {}
    out = []
    for study, final in _final_per_study(summary).groupby("study", sort=False):
        cells = final.reset_index(drop=True)
        base = baseline_index(cells, RING_KEYS, baselines.get(study), study)
        for metric in ("success", "failure"):
            rows = []
            for i, r in cells.iterrows():
                b = cells.iloc[base[i]]
                row = {
                    "study": study,
                    "dataset": r["dataset"],
                    **{k: r[k] for k in RING_KEYS.cell},
                    "step": r["step"],
                    "epoch": r["epoch"],
                    "metric": f"{metric}_rate",
                    **{f"baseline_{k}": b[k] for k in RING_KEYS.cell},
                    "is_baseline": base[i] == i,
                    "n": int(r["n_seeds"]),
                    "n_baseline": int(b["n_seeds"]),
                    "value": r[f"{metric}_rate"],
                    "baseline_value": b[f"{metric}_rate"],
                    "ci_method": "newcombe_hybrid_score",
                    "test": "fisher_exact",
                }
                if base[i] == i:
                    row.update(difference=0.0, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
                else:
                    row.update(
                        difference_of_proportions(
                            int(r[f"n_{metric}"]),
                            int(r["n_seeds"]),
                            int(b[f"n_{metric}"]),
                            int(b["n_seeds"]),
                        )
                    )
                rows.append(row)
            family = pd.DataFrame(rows)
            family["p_holm"] = _holm(family["p_value"])
            out.append(family)
    return _with_significance(out)


# --------------------------------------------------------------------------- images
def compare_fid(
    runs: pd.DataFrame, baselines: dict[str, dict | None] | None = None, metric: str = "fid"
) -> pd.DataFrame:
    """Per image study: each cell's FID over seeds at its last checkpoint against the
    baseline cell's: mean difference with Welch's 95 % CI and p, Mann–Whitney p (diverged
    runs ranked worst), both Holm-adjusted across the study."""
    baselines = baselines or {}
    out = []
    for study, g in runs.groupby("study", sort=False):
        last = g.groupby("cell")["step"].transform("max")
        g = g[g["step"] == last]
        cells = g.drop_duplicates("cell")[list(IMAGE_KEYS.cell)].reset_index(drop=True)
        base = baseline_index(cells, IMAGE_KEYS, baselines.get(study), study)
        values = {c: rows[metric].to_numpy(float) for c, rows in g.groupby("cell")}
        epochs = g.groupby("cell")["epoch"].max()
        rows = []
        for i, r in cells.iterrows():
            b = cells.iloc[base[i]]
            x, y = values[r["cell"]], values[b["cell"]]
            xf, yf = x[np.isfinite(x)], y[np.isfinite(y)]
            row = {
                "study": study,
                **{k: r[k] for k in IMAGE_KEYS.cell},
                "epoch": epochs[r["cell"]],
                "metric": metric,
                **{f"baseline_{k}": b[k] for k in IMAGE_KEYS.cell},
                "is_baseline": base[i] == i,
                "n": len(x),
                "n_baseline": len(y),
                "n_finite": len(xf),
                "n_finite_baseline": len(yf),
                "value": xf.mean() if len(xf) else np.nan,
                "baseline_value": yf.mean() if len(yf) else np.nan,
                "ci_method": "welch_t",
                "test": "welch_t",
            }
            row.update(
                difference=row["value"] - row["baseline_value"],
                ci_low=np.nan,
                ci_high=np.nan,
                p_value=np.nan,
                p_mannwhitney=np.nan,
            )
            if base[i] != i and len(xf) >= 2 and len(yf) >= 2 and (xf.std() > 0 or yf.std() > 0):
                welch = stats.ttest_ind(xf, yf, equal_var=False)
                ci = welch.confidence_interval(LEVEL)
                row.update(
                    ci_low=float(ci.low), ci_high=float(ci.high), p_value=float(welch.pvalue)
                )
            if base[i] != i and len(x) and len(y):
                worst = lambda v: np.where(np.isfinite(v), v, np.inf)  # noqa: E731
                row["p_mannwhitney"] = float(
                    stats.mannwhitneyu(worst(x), worst(y), alternative="two-sided").pvalue
                )
            rows.append(row)
        family = pd.DataFrame(rows)
        family["p_holm"] = _holm(family["p_value"])
        family["p_mannwhitney_holm"] = _holm(family["p_mannwhitney"])
        out.append(family)
    return _with_significance(out)


# --------------------------------------------------------------------------- seed planning
def ring_power_table(
    comparisons: pd.DataFrame, contrast=PAPER_CONTRAST, power: float = 0.8, alpha: float = ALPHA
) -> pd.DataFrame:
    """Per study and baseline cell: the seeds per cell needed for ``contrast`` (success rates),
    the power the study's seed count gave for it, and the success rates it can tell from the
    baseline's observed rate with this power; all for Fisher's exact test at ``alpha`` per
    comparison, before Holm (``gansweep.power``). A detectable rate is NaN (blank in the CSV)
    where no rate on that side reaches the power."""
    success = comparisons[comparisons["metric"] == "success_rate"]
    needed, needed_test = seeds_needed(*contrast, power, alpha)
    rows = []
    for (study, *_), g in success.groupby(
        ["study"] + [f"baseline_{k}" for k in RING_KEYS.cell], dropna=False, sort=False
    ):
        n = int(g["n"].min())
        base = g.iloc[0]
        lo, hi, test = detectable_rates(n, float(base["baseline_value"]), power, alpha)
        rows.append(
            {
                "study": study,
                **{f"baseline_{k}": base[f"baseline_{k}"] for k in RING_KEYS.cell},
                "seeds_per_cell": n,
                "alpha_per_comparison_before_holm": alpha,
                "target_power": power,
                "contrast_baseline": contrast[0],
                "contrast_other": contrast[1],
                "seeds_needed": needed,
                "seeds_needed_test": needed_test,
                "power": power_at(n, *contrast, alpha)[0],
                "baseline_success_rate": float(base["baseline_value"]),
                "detectable_rate_below": np.nan if lo is None else lo,
                "detectable_rate_above": np.nan if hi is None else hi,
                "test": test,
            }
        )
    return pd.DataFrame(rows)


def image_power_table(
    comparisons: pd.DataFrame, effect_size: float = 0.8, power: float = 0.8, alpha: float = ALPHA
) -> pd.DataFrame:
    """Per image study: seeds per cell for a standardised FID difference ``effect_size``
    (Cohen's d) with this power, and the power the study's seed count gave for it."""
    rows = []
    for study, g in comparisons.groupby("study", sort=False):
        n = int(g["n_finite"].min())
        solver = TTestIndPower()
        rows.append(
            {
                "study": study,
                "seeds_per_cell": n,
                "alpha": alpha,
                "target_power": power,
                "effect_size_d": effect_size,
                "seeds_needed": math.ceil(
                    solver.solve_power(effect_size, alpha=alpha, power=power, ratio=1.0)
                ),
                "power": float(solver.power(effect_size, nobs1=n, alpha=alpha, ratio=1.0))
                if n >= 2
                else np.nan,
                "method": "two-sided two-sample t test on Cohen's d (statsmodels TTestIndPower)",
            }
        )
    return pd.DataFrame(rows)
