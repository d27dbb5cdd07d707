"""Figures for the image studies (DCGAN / SNGAN / AC-GAN on CIFAR-10, CelebA, LSUN).

Same conventions as :mod:`gansweep.figures.ring` (whose helpers are reused): every
public function takes result tables (pandas DataFrames) or the image-array dict and an
output *stem* (a path without suffix) and writes ``stem.png`` (200 dpi) and ``stem.pdf``
atomically. Nothing about the data is hard-coded: cells, objectives, α values, learning
rates, checkpoints, seeds, layers, resolutions and class counts all come from the inputs.

A *cell* is one hyper-parameter setting, identified by the ``cell`` column (ids like
``dcgan64-non_saturating-ad0.6-ag1-lr0.0005``, see :func:`gansweep.plan.image_cells`).
A cell *family* is a cell without its D learning rate: the FID-vs-lr figures draw one
line per family. Objectives without α parameters have NaN α_D/α_G.

The standard FID (``fid``) and the authors' non-standard FID (``fid_tv_logits``) are
never drawn on the same axes: the FID figures take a ``metric`` argument and label the
axis with the metric's name.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Iterable, Mapping

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from gansweep.figures.common import (
    MARKERS,
    epochs_text,
    final_rows,
    num_text,
    palette_of,
    pretty_objective,
    save_figure,
    save_message,
    seeds_text,
    apply_theme,
    set_title,
)

INFO = ["architecture", "objective", "alpha_d", "alpha_g", "lr_d", "lr_g"]
SMALL_GRAD = 0.01  # the training loop's threshold for ``n_small`` (training/image.py)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")  # fmt: skip
# metric → (title name, axis label); the authors' FID is never shown as plain "FID".
METRIC_NAMES = {
    "fid": ("FID", "FID"),
    "fid_tv_logits": ("authors' non-standard FID",
                      "authors' FID (non-standard:\ntorchvision Inception logits)"),
}
OBJECTIVE_NAMES = {"lsgan": "LSGAN", "wgan": "WGAN", "wgan_gp": "WGAN-GP"}  # else pretty
ALPHA = r"($\alpha_D$, $\alpha_G$)"
LR_D, LR_G = r"lr$_D$", r"lr$_G$"
_NUMBER = r"[0-9.]+(?:e[-+]?[0-9]+)?"
_CELL_ID = re.compile(
    rf"^(?P<architecture>[^-]+)-(?P<objective>\w+)"
    rf"(?:-ad(?P<alpha_d>{_NUMBER})-ag(?P<alpha_g>{_NUMBER}))?"
    rf"-lr(?P<lr_d>{_NUMBER})(?:-lrg(?P<lr_g>{_NUMBER}))?(?P<extra>-.+)?$"
)


# --------------------------------------------------------------------------- cells and labels


def _parse_cell(cell: str) -> dict | None:
    """Fields of a plan-style cell id (``arch-objective[-adX-agY]-lrZ[-lrgW][-overrides]``)."""
    m = _CELL_ID.match(str(cell))
    if m is None:
        return None
    out = m.groupdict()
    for key in ("alpha_d", "alpha_g", "lr_d", "lr_g"):
        out[key] = float(out[key]) if out[key] is not None else np.nan
    if np.isnan(out["lr_g"]):
        out["lr_g"] = out["lr_d"]
    out["extra"] = (out["extra"] or "").lstrip("-")
    return out


def _cell_info(cells: Iterable[str], *tables: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (index: cell id) with INFO columns, ``extra`` (the id's override
    suffix, e.g. ``batch_size64-n_critic5``) and ``known`` (False: label = the id).
    Table columns take precedence over what the id says."""
    rows = {}
    for cell in dict.fromkeys(map(str, cells)):
        parsed = _parse_cell(cell)
        row = dict.fromkeys(INFO, np.nan) | {"extra": "", "known": parsed is not None}
        rows[cell] = row | (parsed or {})
    info = pd.DataFrame.from_dict(rows, orient="index", columns=INFO + ["extra", "known"])
    info[["architecture", "objective", "extra"]] = info[["architecture", "objective", "extra"]].astype(object)
    for table in tables:
        if table is None or "cell" not in table or table.empty:
            continue
        cols = [c for c in INFO if c in table]
        first = table.assign(cell=table["cell"].astype(str)).drop_duplicates("cell").set_index("cell")
        first = first.loc[first.index.intersection(info.index), cols]
        for col in cols:
            text = col in ("architecture", "objective")
            info.loc[first.index, col] = first[col] if text else pd.to_numeric(first[col], errors="coerce")
        if "objective" in cols:
            info.loc[first.index, "known"] = first["objective"].notna()
    for col in ("alpha_d", "alpha_g", "lr_d", "lr_g"):
        info[col] = pd.to_numeric(info[col], errors="coerce").astype(float)
    info["lr_g"] = info["lr_g"].fillna(info["lr_d"])
    info["known"] = info["known"].astype(bool)
    return _sort_info(info)


def _sort_info(info: pd.DataFrame) -> pd.DataFrame:
    """Cells in a stable reading order: architecture, α objectives before the others,
    objective, α_D, α_G, lr."""
    order = info.assign(_id=info.index, _no_alpha=info["alpha_d"].isna()).sort_values(
        ["architecture", "_no_alpha", "objective", "alpha_d", "alpha_g", "lr_d", "lr_g", "extra", "_id"],
        na_position="last", kind="stable")  # fmt: skip
    return info.loc[order.index]


def _objective_name(objective) -> str:
    return OBJECTIVE_NAMES.get(str(objective), pretty_objective(objective))


def _labels(info: pd.DataFrame, skip_lr: bool = False, sep: str = ", ") -> dict[str, str]:
    """Cell id → legend label: architecture (if it varies), objective and/or
    '(αD, αG) = (0.6, 1)', lr (if it varies and not ``skip_lr``), lr_G (if ever ≠ lr_D).
    Cells whose labels would coincide get their id's override suffix, then their id."""
    known = info[info["known"]]
    show_arch = known["architecture"].nunique() > 1
    alpha_cells = known[known["alpha_d"].notna()]
    alpha_objectives = alpha_cells["objective"].nunique()
    combos = alpha_cells.groupby("objective")[["alpha_d", "alpha_g"]].apply(
        lambda g: len(g.drop_duplicates())).to_dict()  # fmt: skip
    show_lr = not skip_lr and known["lr_d"].nunique() > 1
    show_lr_g = bool((known["lr_g"] != known["lr_d"]).any())
    labels = {}
    for cell, row in info.iterrows():
        if not row["known"]:
            labels[cell] = str(cell)
            continue
        parts = [str(row["architecture"])] if show_arch else []
        name = _objective_name(row["objective"])
        if pd.notna(row["alpha_d"]):
            alpha = f"{ALPHA} = ({num_text(row['alpha_d'])}, {num_text(row['alpha_g'])})"
            both = alpha_objectives > 1 or combos.get(row["objective"], 1) == 1
            parts.append(f"{name} {alpha}" if both else alpha)
        else:
            parts.append(name)
        if show_lr:
            parts.append(f"{LR_D if show_lr_g else 'lr'} = {num_text(row['lr_d'])}")
        if show_lr_g:
            parts.append(f"{LR_G} = {num_text(row['lr_g'])}")
        labels[cell] = sep.join(parts)
    # Disambiguate: a label must name one cell (per lr_D when the lr is on an axis).
    key = pd.DataFrame({"label": pd.Series(labels), "lr": info["lr_d"].fillna(-1.0)})
    if not skip_lr:
        key["lr"] = 0.0
    for _ in range(2):
        clash = key.duplicated(["label", "lr"], keep=False)
        if not clash.any():
            break
        for label in key.loc[clash, "label"].unique():
            for cell in key.index[key["label"] == label]:
                extra = info.at[cell, "extra"]
                longer = extra and not label.endswith(extra)
                key.at[cell, "label"] = f"{label}{sep}{extra}" if longer else str(cell)
    return key["label"].to_dict()


# --------------------------------------------------------------------------- small helpers


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
    fig.legend(handles, labels, title=title, loc="center left", bbox_to_anchor=(1.0, 0.5),
               frameon=False)  # fmt: skip


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


# --------------------------------------------------------------------------- FID figures


def _metric_names(metric: str) -> tuple[str, str]:
    return METRIC_NAMES.get(metric, (metric, metric))


def _metric(summary: pd.DataFrame, metric: str) -> tuple[str, str, str, str, str] | None:
    """Column names (mean, CI low, CI high) plus title and axis names of ``metric``."""
    cols = tuple(f"{metric}_{s}" for s in ("mean", "ci_low", "ci_high"))
    if summary is None or summary.empty or any(c not in summary for c in cols):
        return None
    return (*cols, *_metric_names(metric))


def _clean_summary(summary: pd.DataFrame) -> pd.DataFrame:
    df = summary.copy()
    df["cell"] = df["cell"].astype(str)
    for col in ("alpha_d", "alpha_g", "lr_d", "lr_g", "epoch", "n_seeds", "n_ok"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    if "lr_g" in df and "lr_d" in df:
        df["lr_g"] = df["lr_g"].fillna(df["lr_d"])
    return df


def _at_epoch(summary: pd.DataFrame, epoch: float | None) -> pd.DataFrame:
    """Per cell, the checkpoint nearest ``epoch`` (default: each cell's last checkpoint)."""
    parts = []
    for _, rows in summary.groupby("cell", sort=False):
        if epoch is None:
            parts.append(final_rows(rows))
        else:
            gap = (rows["epoch"] - float(epoch)).abs()
            parts.append(rows[gap == gap.min()].iloc[[-1]])
    return pd.concat(parts, ignore_index=True)


def _fid_line(ax, x, y, lo, hi, color, marker, label, band_alpha):
    """Mean line with markers; a CI band when there are ≥ 2 points, else an error bar.
    Returns the legend handle."""
    ok = np.isfinite(y)
    if ok.sum() >= 2:
        (handle,) = ax.plot(x, y, marker=marker, ms=4, color=color, label=label)
        ax.fill_between(x, lo, hi, color=color, alpha=band_alpha, lw=0)
        return handle
    if ok.any():
        err = np.abs(np.vstack([lo[ok], hi[ok]]) - y[ok])
        err = np.where(np.isfinite(err), err, 0.0)
        return ax.errorbar(x[ok], y[ok], yerr=err, marker=marker, ms=4, color=color, capsize=2.5, label=label)
    return Line2D([], [], marker=marker, ms=4, color=color)  # nothing finite: legend entry only


def _all_diverged(ax, x, color) -> None:
    """× at the top edge of the axes where every seed of a cell diverged (no finite FID)."""
    if len(x):
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(x, np.full(len(x), 0.97), ls="", marker="x", ms=5, mew=1.4, color=color,
                transform=trans, clip_on=False, zorder=4)  # fmt: skip


def _diverged_handle() -> Line2D:
    return Line2D([], [], ls="", marker="x", ms=5, mew=1.4, color="0.3")


def _log_floor(lo: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CI lower bounds ≤ 0 cannot be drawn on a log axis; clip them below the smallest mean."""
    floor = np.nanmin(y[y > 0]) / 2 if np.any(y > 0) else 1.0
    return np.where(lo > 0, lo, floor)


def plot_fid_vs_lr(summary: pd.DataFrame, stem: Path, epoch: float | None = None,
                   metric: str = "fid") -> None:
    """Mean FID at one checkpoint vs the D learning rate (the (αD, αG) paper's Fig. 2/4 left).

    One line per cell family (objective, α_D, α_G[, lr_G, architecture, overrides]) with
    its 95 % t-interval over seeds as a band (error bars for a single lr). ``epoch``:
    the checkpoint nearest this epoch per cell (default: the last). Points where every
    seed diverged (no finite FID) are skipped and marked × at the top; families with
    diverged seeds say how many seeds have a finite FID (n_ok) in the legend.
    ``metric="fid_tv_logits"`` draws the authors' non-standard FID instead (never both).
    """
    cols = _metric(summary, metric)
    if cols is None:
        save_message(stem, f"no {_metric_names(metric)[0]} values in this study")
        return
    mean, low, high, title, name = cols
    apply_theme()
    df = _clean_summary(summary)
    at = _at_epoch(df, epoch)
    info = _cell_info(at["cell"], at)
    labels = _labels(info, skip_lr=True)
    at["family"] = at["cell"].map(labels)
    order = list(dict.fromkeys(labels[c] for c in info.index))
    colors = dict(zip(order, palette_of(len(order))))
    lrs = at["lr_d"].to_numpy(dtype=float)
    single_lr = len(np.unique(lrs[np.isfinite(lrs)])) <= 1
    log_x = _needs_log(lrs, 3.0)
    log_y = _needs_log(at[mean])
    band = min(0.2, max(0.06, 0.3 / max(len(order), 1)))

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    if log_y:
        _log_y(ax)
    if log_x:
        ax.set_xscale("log")
    handles, names = [], []
    for i, family in enumerate(order):
        rows = at[at["family"] == family].sort_values("lr_d")
        x = rows["lr_d"].to_numpy(dtype=float)
        if single_lr:  # dodge the error bars of the families sharing one lr
            x = x * (1 + 0.04 * (i - (len(order) - 1) / 2))
        y, lo, hi = (rows[c].to_numpy(dtype=float) for c in (mean, low, high))
        if log_y:
            lo = _log_floor(lo, at[mean].to_numpy(dtype=float))
        label = family + _n_ok_note(rows)
        handles.append(_fid_line(ax, x, y, lo, hi, colors[family], MARKERS[i % len(MARKERS)], label, band))
        names.append(label)
        _all_diverged(ax, x[~np.isfinite(y)], colors[family])
    if (~np.isfinite(at[mean].to_numpy(dtype=float))).any():
        handles.append(_diverged_handle())
        names.append("all seeds diverged (no finite value)")
    suffix = _lr_ticks(ax, np.unique(lrs))
    if single_lr and np.isfinite(lrs).any():
        lr = float(np.nanmax(lrs))
        ax.set_xlim(lr * (1 - 0.04 * len(order)), lr * (1 + 0.04 * len(order)))
    same_lr = bool((at["lr_g"] == at["lr_d"]).all())
    lr_g = f" = {LR_G}{suffix}" if same_lr else f"{suffix}; {LR_G}: see legend"
    ax.set_xlabel(f"learning rate {LR_D}{lr_g}")
    ax.set_ylabel(name + (" (log scale)" if log_y else ""))
    epochs = _range_text(at["epoch"], epochs_text)
    fig.tight_layout()
    set_title(fig, f"{title} at epoch {epochs} vs learning rate{_datasets(at)}\n"
                f"(mean and 95 % t-CI over seeds with a finite value; {seeds_text(at['n_seeds'])})")
    _legend_right(fig, handles, names)
    save_figure(fig, stem)


def plot_fid_over_epochs(summary: pd.DataFrame, stem: Path, metric: str = "fid") -> None:
    """Mean FID ± 95 % t-interval vs epoch, one line per cell; one panel per D learning
    rate when the study has several (wrapped, shared y; log y when FIDs span > 10×)."""
    cols = _metric(summary, metric)
    if cols is None:
        save_message(stem, f"no {_metric_names(metric)[0]} values in this study")
        return
    mean, low, high, title, name = cols
    apply_theme()
    df = _clean_summary(summary)
    info = _cell_info(df["cell"], df)
    lrs = sorted(df["lr_d"].dropna().unique())
    facet = len(lrs) > 1
    labels = _labels(info, skip_lr=facet)
    df["family"] = df["cell"].map(labels)
    order = list(dict.fromkeys(labels[c] for c in info.index))
    colors = dict(zip(order, palette_of(len(order))))
    log_y = _needs_log(df[mean])
    band = min(0.2, max(0.06, 0.3 / max(len(order), 1)))
    panels = lrs if facet else [None]
    ncol = min(4, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.1 * ncol, 2.5 * nrow + 0.3), sharex=True,
                             sharey=True, squeeze=False)  # fmt: skip
    legend = {}
    for ax, lr in zip(axes.flat, panels):
        if log_y:
            _log_y(ax)
        part = df if lr is None else df[df["lr_d"] == lr]
        for i, family in enumerate(order):
            rows = part[part["family"] == family].sort_values("epoch")
            if rows.empty:
                continue
            y, lo, hi = (rows[c].to_numpy(dtype=float) for c in (mean, low, high))
            if log_y:
                lo = _log_floor(lo, df[mean].to_numpy(dtype=float))
            x = rows["epoch"].to_numpy(dtype=float)
            handle = _fid_line(ax, x, y, lo, hi, colors[family], MARKERS[i % len(MARKERS)], family, band)
            _all_diverged(ax, x[~np.isfinite(y)], colors[family])
            legend.setdefault(family, handle)
        if lr is not None:
            ax.set_title(f"{LR_D} = {num_text(lr)}")
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("training epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel(name + (" (log scale)" if log_y else ""))
    handles = [legend[f] for f in order if f in legend]
    names = [f + _n_ok_note(df[df["family"] == f]) for f in order if f in legend]
    if (~np.isfinite(df[mean].to_numpy(dtype=float))).any():
        handles.append(_diverged_handle())
        names.append("all seeds diverged (no finite value)")
    epochs = np.unique(df["epoch"].dropna())
    if len(epochs) == 1:
        axes[0, 0].set_xticks(epochs, [epochs_text(e) for e in epochs])
    fig.tight_layout()
    set_title(fig, f"{title} during training{_datasets(df)}\n"
                f"(mean and 95 % t-CI over seeds with a finite value; {seeds_text(df['n_seeds'])})")
    _legend_right(fig, handles, names)
    save_figure(fig, stem)


# --------------------------------------------------------------------------- training curves


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


def _seed_curves(table: pd.DataFrame, x: str, values: list[str], keys: list[str],
                 max_points: int) -> pd.DataFrame:
    """Per key group and x bin: mean, std and count over seeds of each seed's bin mean."""
    parts = []
    for _, rows in table.groupby("cell", sort=False):
        rows = rows.assign(_bin=_bins(rows[x].to_numpy(dtype=float), max_points))
        per_seed = rows.groupby(keys + ["seed", "_bin"], sort=False)[[x] + values].mean().reset_index()
        agg = per_seed.groupby(keys + ["_bin"], sort=True).agg(
            **{x: (x, "mean")},
            **{f"{v}_mean": (v, "mean") for v in values},
            **{f"{v}_std": (v, "std") for v in values},
            **{f"{v}_n": (v, "count") for v in values},
        )  # fmt: skip
        parts.append(agg.reset_index())
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _diverged_text(train_runs: pd.DataFrame | None) -> str:
    if train_runs is None or "status" not in train_runs:
        return ""
    k = int((train_runs["status"] == "diverged").sum())
    return f"; {k} of {len(train_runs)} runs diverged (curves end there)" if k else ""


def _seed_counts(table: pd.DataFrame) -> pd.Series:
    return table.groupby("cell")["seed"].nunique()


def plot_loss_curves(train_log: pd.DataFrame, train_runs: pd.DataFrame, stem: Path,
                     max_points: int = 200) -> None:
    """Generator and discriminator loss vs epoch, one colour per cell (seed 000 figs. 3–4).

    Raw loss values, averaged within at most ``max_points`` bins of logged steps per run,
    then mean and 95 % t-interval over seeds. Symlog y when the values span orders of
    magnitude (WGAN critics). Several learning rates with more than 10 cells: one row of
    panels per lr_D.
    """
    if train_log is None or train_log.empty or not {"g_loss", "d_loss"} <= set(train_log):
        save_message(stem, "no training losses logged in this study")
        return
    apply_theme()
    x = _x_column(train_log)
    log = train_log.copy()
    log["cell"] = log["cell"].astype(str)
    log[["g_loss", "d_loss"]] = log[["g_loss", "d_loss"]].astype(float).replace([np.inf, -np.inf], np.nan)
    info = _cell_info(log["cell"], train_runs)
    lrs = sorted(info["lr_d"].dropna().unique())
    facet = len(lrs) > 1 and len(info) > 10
    labels = _labels(info, skip_lr=facet)
    log["label"] = log["cell"].map(labels)
    order = list(dict.fromkeys(labels[c] for c in info.index))
    colors = dict(zip(order, palette_of(len(order))))
    curves = _seed_curves(log, x, ["g_loss", "d_loss"], ["cell"], max_points)
    curves["label"] = curves["cell"].map(labels)
    curves["lr_d"] = curves["cell"].map(info["lr_d"])
    rows_lr = lrs if facet else [None]
    fig, axes = plt.subplots(len(rows_lr), 2, figsize=(8.0, 2.7 * len(rows_lr) + 0.3), sharex=True,
                             squeeze=False)  # fmt: skip
    band = min(0.25, max(0.08, 0.4 / max(len(order), 1)))
    for row_axes, lr in zip(axes, rows_lr):
        part = curves if lr is None else curves[curves["lr_d"] == lr]
        panels = (("g_loss", "generator loss"), ("d_loss", "discriminator / critic loss"))
        for ax, (value, title) in zip(row_axes, panels):
            for label in order:
                c = part[part["label"] == label].sort_values(x)
                if c.empty:
                    continue
                m = c[f"{value}_mean"].to_numpy(dtype=float)
                half = _t_half_width(c[f"{value}_std"], c[f"{value}_n"])
                xs = c[x].to_numpy(dtype=float)
                ax.plot(xs, m, lw=1.0, color=colors[label], label=label)
                ax.fill_between(xs, m - half, m + half, color=colors[label], alpha=band, lw=0)
            shown = part[f"{value}_mean"].to_numpy(dtype=float)
            ax.set_ylabel(_symlog_if_wide(ax, shown, title))
            ax.set_title(title if lr is None else f"{title}, {LR_D} = {num_text(lr)}")
    for ax in axes[-1]:
        ax.set_xlabel("training epoch" if x == "epoch" else "training step")
    handles = [Line2D([], [], color=colors[label], lw=1.5) for label in order]
    fig.tight_layout()
    many = log.groupby("cell")[x].nunique().max() > max_points
    binned = f"logged steps averaged in ≤ {max_points} bins per run; " if many else ""
    set_title(fig, f"Generator and discriminator losses during training{_datasets(train_runs)}\n"
                f"(raw loss values; {binned}mean and 95 % t-CI over seeds;\n"
                f"{seeds_text(_seed_counts(log))}{_diverged_text(train_runs)})")
    _legend_right(fig, handles, order)
    save_figure(fig, stem)


def _layer_order(grads: pd.DataFrame, cells: Iterable[str]) -> list[str]:
    """Layer names in forward order (as logged), merged over cells."""
    order: list[str] = []
    for cell in cells:
        for layer in pd.unique(grads.loc[grads["cell"] == cell, "layer"]):
            if layer not in order:
                order.append(layer)
    return order


def plot_vanishing_gradients(train_grads: pd.DataFrame, train_runs: pd.DataFrame, stem: Path,
                             max_cells: int = 12, max_points: int = 200) -> None:
    """log₁₀ count of D gradient entries with |g| < 0.01 per layer vs epoch (seed 001 fig. 4).

    One panel per cell (e.g. DCGAN vs WGAN), one line per D layer (forward order, dark =
    first layer), mean count over seeds; zero counts leave gaps.
    """
    need = {"cell", "seed", "layer", "n_small"}
    if train_grads is None or train_grads.empty or not need <= set(train_grads):
        save_message(stem, "no discriminator gradient statistics logged in this study")
        return
    apply_theme()
    x = _x_column(train_grads)
    grads = train_grads.copy()
    grads["cell"] = grads["cell"].astype(str)
    grads["n_small"] = grads["n_small"].astype(float)
    info = _cell_info(grads["cell"], train_runs)
    titles = _labels(info, sep="\n")
    cells = list(info.index)
    shown = cells[:max_cells]
    layers = _layer_order(grads, shown)
    colors = dict(zip(layers, sns.color_palette("viridis", len(layers))))  # light = deep
    curves = _seed_curves(grads[grads["cell"].isin(shown)], x, ["n_small"], ["cell", "layer"], max_points)
    with np.errstate(divide="ignore"):
        curves["log_count"] = np.where(curves["n_small_mean"] > 0, np.log10(curves["n_small_mean"]), np.nan)
    ncol = min(3, len(shown))
    nrow = math.ceil(len(shown) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 2.6 * nrow + 0.3), sharex=True, sharey=True,
                             squeeze=False)  # fmt: skip
    for ax, cell in zip(axes.flat, shown):
        part = curves[curves["cell"] == cell]
        for layer in layers:
            c = part[part["layer"] == layer].sort_values(x)
            if not c.empty:
                ax.plot(c[x], c["log_count"], lw=1.0, color=colors[layer], label=layer)
        ax.set_title(titles[cell], fontsize=8)
    for ax in axes.flat[len(shown):]:
        ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("training epoch" if x == "epoch" else "training step")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"log$_{{10}}$ count of |∂L/∂w| < {num_text(SMALL_GRAD)}")
    # Lower rows' x labels sit under empty slots when the last row is short.
    for ax in axes.flat[len(shown) - ncol:len(shown)] if len(shown) > ncol else []:
        ax.tick_params(labelbottom=True)
        ax.set_xlabel("training epoch" if x == "epoch" else "training step")
    title = f"Discriminator gradient entries with |∂L/∂w| < {num_text(SMALL_GRAD)} per layer"
    title += _datasets(train_runs)
    more = f"; first {len(shown)} of {len(cells)} cells" if len(cells) > len(shown) else ""
    fig.tight_layout()
    set_title(fig, f"{title}\n(mean count over seeds, log$_{{10}}$; {seeds_text(_seed_counts(grads))}{more})")
    handles = [Line2D([], [], color=colors[layer], lw=1.5) for layer in layers]
    _legend_right(fig, handles, layers, title="D layer (input → output)")
    save_figure(fig, stem)


# --------------------------------------------------------------------------- image arrays


def _rgb(images: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W, 3] (grey [N, H, W] or [N, H, W, 1] is repeated to RGB)."""
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


def _mosaic(images: np.ndarray, ncol: int, pad: int = 2) -> np.ndarray:
    """Tile [N, H, W, 3] row-major into one image with white ``pad``-pixel gutters."""
    a = _rgb(images)
    n, h, w, c = a.shape
    nrow = math.ceil(n / ncol)
    out = np.full((nrow * (h + pad) - pad, ncol * (w + pad) - pad, c), 255, np.uint8)
    for i in range(n):
        r, k = divmod(i, ncol)
        out[r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = a[i]
    return out


def _first_seed(per_seed: Mapping, key: str) -> tuple[int, np.ndarray] | None:
    for seed in sorted(per_seed):
        arr = per_seed[seed].get(key) if isinstance(per_seed[seed], Mapping) else None
        if arr is not None and np.asarray(arr).size:
            return seed, np.asarray(arr)
    return None


def _image_cells(images: Mapping, key: str) -> tuple[list[tuple[str, int, np.ndarray]], dict[str, str]]:
    """(cell, first seed, array) for each cell that has ``key``, in reading order, and labels."""
    found = {str(cell): _first_seed(per_seed, key) for cell, per_seed in (images or {}).items()}
    info = _cell_info(found)  # labels from all cells, so that they match across figures
    labels = _labels(info, sep="\n")
    return [(cell, *found[cell]) for cell in info.index if found[cell] is not None], labels


def _imshow(ax, mosaic: np.ndarray) -> None:
    ax.imshow(mosaic, interpolation="antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _more_text(shown: int, total: int) -> str:
    return f"; first {shown} of {total} cells" if total > shown else ""


def plot_interpolations(images: Mapping, stem: Path, max_cells: int = 8) -> None:
    """One row per cell (first seed): the images along a straight line between two latents
    (seed 001 figs. 6–7; 21 images there), final generator."""
    cells, labels = _image_cells(images, "interpolation")
    if not cells:
        save_message(stem, "no latent interpolations in this study")
        return
    apply_theme()
    shown = cells[:max_cells]
    n = max(len(a) for _, _, a in shown)
    width = min(12.0, 0.45 * n + 0.5)  # inches for the image strip
    ratios = [a.shape[1] / (len(a) * a.shape[2]) for _, _, a in shown]
    heights = [width * r + 0.05 for r in ratios]
    fig, axes = plt.subplots(len(shown), 1, figsize=(width + 1.6, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)  # fmt: skip
    for ax, (cell, seed, arr) in zip(axes[:, 0], shown):
        _imshow(ax, _mosaic(arr, len(arr)))
        ax.set_ylabel(f"{labels[cell]}\nseed {seed}", rotation=0, ha="right", va="center", fontsize=7)
    # λ ticks on the last strip: first, middle and last image.
    last = shown[-1][2]
    k, pitch = len(last), last.shape[2] + 2
    ticks = sorted({0, (k - 1) // 2, k - 1})
    axes[-1, 0].set_xticks([t * pitch + last.shape[2] / 2 for t in ticks],
                           [f"λ = {num_text(round(t / max(k - 1, 1), 3))}" for t in ticks], fontsize=7)
    axes[-1, 0].tick_params(length=0, pad=2)
    fig.tight_layout(h_pad=0.3)
    set_title(fig, f"Latent-space interpolation: {n} images along λ·z₁ + (1 − λ)·z₂\n"
                f"(final generator, first seed per cell{_more_text(len(shown), len(cells))})")
    save_figure(fig, stem)


def plot_sample_grids(images: Mapping, stem: Path, max_cells: int = 12) -> None:
    """The final generator's sample grid (8×8 for 64 images) per cell, first seed."""
    cells, labels = _image_cells(images, "grid")
    if not cells:
        save_message(stem, "no sample grids in this study")
        return
    apply_theme()
    shown = cells[:max_cells]
    ncol = min(4, len(shown))
    nrow = math.ceil(len(shown) / ncol)
    side = max(a.shape[1] for _, _, a in shown)
    per_row = max(math.ceil(math.sqrt(len(a))) for _, _, a in shown)
    panel = float(np.clip(side * per_row / 280, 2.0, 3.2))  # inches per panel
    fig, axes = plt.subplots(nrow, ncol, figsize=(panel * ncol, (panel + 0.45) * nrow + 0.3), squeeze=False)
    for ax, (cell, seed, arr) in zip(axes.flat, shown):
        _imshow(ax, _mosaic(arr, math.ceil(math.sqrt(len(arr)))))
        ax.set_title(f"{labels[cell]}\nseed {seed}", fontsize=7)
    for ax in axes.flat[len(shown):]:
        ax.set_axis_off()
    sizes = sorted({a.shape[1:3] for _, _, a in shown})
    size = " to ".join(dict.fromkeys(f"{h}×{w}" for h, w in (sizes[0], sizes[-1])))
    fig.tight_layout()
    set_title(fig, f"Samples from the final generator ({size} pixels)\n"
                f"(first seed per cell{_more_text(len(shown), len(cells))})")
    save_figure(fig, stem)


def _class_count(per_seed: Mapping, arr: np.ndarray, n_classes: int | None) -> int:
    """Classes in a class-major per-class array: the argument, an ``n_classes`` entry
    saved next to the arrays, else the square layout the evaluation writes (k = n)."""
    if n_classes:
        return int(n_classes)
    for seed_arrays in per_seed.values():
        if isinstance(seed_arrays, Mapping) and "n_classes" in seed_arrays:
            return int(np.asarray(seed_arrays["n_classes"]).ravel()[0])
    root = math.isqrt(len(arr))
    return root if root * root == len(arr) else (10 if len(arr) % 10 == 0 else 1)


def plot_class_grids(images: Mapping, stem: Path, n_classes: int | None = None) -> None:
    """AC-GAN per-class samples (rows = classes; CIFAR-10 names for 10 classes), one panel
    per conditional cell; a placeholder figure when no cell is conditional."""
    cells, labels = _image_cells(images, "classes")
    if not cells:
        save_message(stem, "no class-conditional (AC-GAN) cell in this study:\nno per-class sample grids")
        return
    apply_theme()
    ncol = min(3, len(cells))
    nrow = math.ceil(len(cells) / ncol)
    specs = []
    for cell, seed, arr in cells:
        k_classes = _class_count(images[cell] if cell in images else {}, arr, n_classes)
        specs.append((cell, seed, arr, k_classes, math.ceil(len(arr) / k_classes)))
    per_class = max(s[4] for s in specs)
    rows = max(s[3] for s in specs)
    side = max(a.shape[1] for _, _, a, _, _ in specs)
    panel_w = float(np.clip(side * per_class / 300, 2.4, 4.0))
    panel_h = panel_w * rows / per_class
    if panel_h > 7.0:  # few images per class: keep the panel on a page
        panel_w, panel_h = panel_w * 7.0 / panel_h, 7.0
    fig, axes = plt.subplots(nrow, ncol, figsize=((panel_w + 0.9) * ncol, (panel_h + 0.5) * nrow + 0.3),
                             squeeze=False)  # fmt: skip
    for ax, (cell, seed, arr, k_classes, k) in zip(axes.flat, specs):
        _imshow(ax, _mosaic(arr, k))
        pitch = arr.shape[1] + 2
        cifar = k_classes == len(CIFAR10_CLASSES)
        names = CIFAR10_CLASSES if cifar else [f"class {i}" for i in range(k_classes)]
        ax.set_yticks([i * pitch + arr.shape[1] / 2 for i in range(k_classes)], names, fontsize=7)
        ax.tick_params(axis="y", length=0, pad=2)
        ax.set_title(f"{labels[cell]}\nseed {seed}", fontsize=7)
    for ax in axes.flat[len(specs):]:
        ax.set_axis_off()
    fig.tight_layout()
    set_title(fig, f"Class-conditional samples, {per_class} per class\n"
                "(final generator, first seed per cell)")
    save_figure(fig, stem)


FIGURES = {
    "fid_vs_lr": plot_fid_vs_lr,
    "fid_over_epochs": plot_fid_over_epochs,
    "fid_tv_logits_vs_lr": functools.partial(plot_fid_vs_lr, metric="fid_tv_logits"),
    "loss_curves": plot_loss_curves,
    "vanishing_gradients": plot_vanishing_gradients,
    "interpolations": plot_interpolations,
    "class_grids": plot_class_grids,
    "sample_grids": plot_sample_grids,
}
