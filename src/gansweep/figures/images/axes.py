"""Small axis, legend and text helpers shared by the image figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from scipy import stats

from gansweep.figures.common import num_text


def _needs_log(values, ratio: float = 10.0) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and v.max() / v.min() > ratio


def _log_y(ax) -> None:
    """Log y axis with plain-number labels at 1, 2 and 5 × 10^k (few decades: FID)."""
    ax.set_yscale("log")
    plain = mticker.FuncFormatter(lambda v, _: num_text(v))
    ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_locator(mticker.LogLocator(subs="auto"))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def _range_text(values, fmt=num_text) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return "?"
    lo, hi = v.min(), v.max()
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def _datasets(*tables: pd.DataFrame) -> str:
    names = []
    for t in tables:
        if t is not None and "dataset" in t:
            names += [str(d) for d in t["dataset"].dropna().unique()]
    names = list(dict.fromkeys(names))
    return f" ({', '.join(names)})" if names else ""


def _n_ok_note(rows: pd.DataFrame) -> str:
    """' [n_ok 37–49 of 50]' when some seeds of a family have no finite FID."""
    if "n_ok" not in rows or not (rows["n_ok"] < rows["n_seeds"]).any():
        return ""
    ok, n = (_range_text(rows[c], lambda v: str(int(v))) for c in ("n_ok", "n_seeds"))
    return f" [n$_{{ok}}$ {ok} of {n}]"


def _t_half_width(std: pd.Series, n: pd.Series, level: float = 0.95) -> np.ndarray:
    """Half-width of the Student-t interval for a mean (NaN for fewer than 2 seeds)."""
    n = n.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = stats.t.ppf(0.5 + level / 2, np.where(n > 1, n - 1, np.nan))
        return q * std.to_numpy(dtype=float) / np.sqrt(n)


def _bins(x: np.ndarray, max_points: int) -> np.ndarray:
    """Bin index per x: each distinct x when there are few, else ``max_points`` equal bins."""
    uniq = np.unique(x[np.isfinite(x)])
    if len(uniq) <= max_points:
        return np.searchsorted(uniq, x)
    edges = np.linspace(uniq[0], uniq[-1], max_points + 1)
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max_points - 1)


def _x_column(table: pd.DataFrame) -> str:
    return "epoch" if "epoch" in table and table["epoch"].notna().any() else "step"


def _legend_right(fig: plt.Figure, handles, labels, title: str | None = None) -> None:
    fig.legend(
        handles, labels, title=title, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )


def _lr_ticks(ax, lrs: np.ndarray) -> str:
    """Ticks at the learning rates of the grid, as multiples of a power of ten; returns the
    axis-label suffix (e.g. ' (× 10⁻⁴)')."""
    lrs = np.unique(lrs[np.isfinite(lrs)])
    if not 0 < len(lrs) <= 12:
        return ""
    exp = int(math.floor(math.log10(lrs.min())))
    scaled = lrs / 10.0**exp
    if exp != 0 and np.allclose(scaled, np.round(scaled, 2)):
        ax.set_xticks(lrs, [num_text(round(v, 2)) for v in scaled])
        suffix = rf" ($\times 10^{{{exp}}}$)"
    else:
        ax.set_xticks(lrs, [num_text(v) for v in lrs])
        suffix = ""
    ax.minorticks_off()
    return suffix


def _symlog_if_wide(ax, values: np.ndarray, label: str) -> str:
    """Symlog y when |values| span orders of magnitude (WGAN losses); returns the y label."""
    a = np.abs(values[np.isfinite(values)])
    if len(a) < 2:
        return label
    typical = max(float(np.median(a)), 1e-3)
    if a.max() <= 100 * typical:
        return label
    linthresh = 10.0 ** math.ceil(math.log10(typical))
    ax.set_yscale("symlog", linthresh=linthresh)
    return f"{label}\n(symlog scale, linear within ±{num_text(linthresh)})"
