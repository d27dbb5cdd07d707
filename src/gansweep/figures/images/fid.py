"""FID figures: mean FID over seeds vs the D learning rate, and over training epochs.

The standard FID (``fid``) and the authors' non-standard FID (``fid_tv_logits``) are never drawn on
the same axes: the figures take a ``metric`` argument and label the axis with the metric's name.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from gansweep.figures import common
from gansweep.figures.common import (
    MARKERS,
    apply_theme,
    epochs_text,
    final_rows,
    num_text,
    palette_of,
    save_message,
    seeds_text,
    set_title,
)
from gansweep.figures.images.axes import (
    _datasets,
    _legend_right,
    _log_y,
    _lr_ticks,
    _n_ok_note,
    _needs_log,
    _range_text,
)
from gansweep.figures.images.cells import LR_D, LR_G, _cell_info, _labels

METRIC_NAMES = {
    "fid": ("FID", "FID"),
    "fid_tv_logits": (
        "authors' non-standard FID",
        "authors' FID (non-standard:\ntorchvision Inception logits)",
    ),
}


def _metric_names(metric: str) -> tuple[str, str]:
    return METRIC_NAMES.get(metric, (metric, metric))


def _metric(summary: pd.DataFrame, metric: str) -> tuple[str, str, str, str, str] | None:
    """Column names (mean, CI low, CI high) plus title and axis names of ``metric``."""
    cols = tuple(f"{metric}_{s}" for s in ("mean", "ci_low", "ci_high"))
    if summary is None or summary.empty or any(c not in summary for c in cols):
        return None
    return (*cols, *_metric_names(metric))


def _metric_or_message(
    summary: pd.DataFrame, metric: str, stem: Path
) -> tuple[str, str, str, str, str] | None:
    """``_metric``; when the study has no such values, a figure saying so is saved instead."""
    cols = _metric(summary, metric)
    if cols is None:
        save_message(stem, f"no {_metric_names(metric)[0]} values in this study")
    return cols


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
        return ax.errorbar(
            x[ok], y[ok], yerr=err, marker=marker, ms=4, color=color, capsize=2.5, label=label
        )
    return Line2D([], [], marker=marker, ms=4, color=color)  # nothing finite: legend entry only


def _all_diverged(ax, x, color) -> None:
    """× at the top edge of the axes where every seed of a cell diverged (no finite FID)."""
    if len(x):
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(
            x,
            np.full(len(x), 0.97),
            ls="",
            marker="x",
            ms=5,
            mew=1.4,
            color=color,
            transform=trans,
            clip_on=False,
            zorder=4,
        )


def _diverged_handle() -> Line2D:
    return Line2D([], [], ls="", marker="x", ms=5, mew=1.4, color="0.3")


def _log_floor(lo: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CI lower bounds ≤ 0 cannot be drawn on a log axis; clip them below the smallest mean."""
    floor = np.nanmin(y[y > 0]) / 2 if np.any(y > 0) else 1.0
    return np.where(lo > 0, lo, floor)


def _families(at: pd.DataFrame) -> tuple[pd.DataFrame, list[str], dict]:
    """``at`` with a ``family`` column (the cell's label without its lr), families in reading
    order, and a colour per family."""
    info = _cell_info(at["cell"], at)
    labels = _labels(info, skip_lr=True)
    order = list(dict.fromkeys(labels[c] for c in info.index))
    return at.assign(family=at["cell"].map(labels)), order, dict(zip(order, palette_of(len(order))))


def _draw_vs_lr(
    ax,
    at: pd.DataFrame,
    order: list[str],
    colors: dict,
    cols: tuple[str, str, str],
    ylabel: str,
    log_y: bool | None = None,
) -> tuple[list, list[str]]:
    """One metric's mean and CI (columns ``cols``) vs lr_D on ``ax``, one line per family (see
    :func:`plot_fid_vs_lr`); log y by default when the means span > 10×. Returns legend entries."""
    mean, low, high = cols
    lrs = at["lr_d"].to_numpy(dtype=float)
    single_lr = len(np.unique(lrs[np.isfinite(lrs)])) <= 1
    log_y = _needs_log(at[mean]) if log_y is None else log_y
    band = min(0.2, max(0.06, 0.3 / max(len(order), 1)))
    if log_y:
        _log_y(ax)
    if _needs_log(lrs, 3.0):
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
        handles.append(
            _fid_line(ax, x, y, lo, hi, colors[family], MARKERS[i % len(MARKERS)], label, band)
        )
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
    ax.set_ylabel(ylabel + (" (log scale)" if log_y else ""))
    return handles, names


def plot_fid_vs_lr(
    summary: pd.DataFrame, stem: Path, epoch: float | None = None, metric: str = "fid"
) -> None:
    """Mean FID at one checkpoint vs the D learning rate (the (αD, αG) paper's Fig. 2/4 left).

    One line per cell family (objective, α_D, α_G[, lr_G, architecture, overrides]) with
    its 95 % t-interval over seeds as a band (error bars for a single lr). ``epoch``:
    the checkpoint nearest this epoch per cell (default: the last). Points where every
    seed diverged (no finite FID) are skipped and marked × at the top; families with
    diverged seeds say how many seeds have a finite FID (n_ok) in the legend.
    ``metric="fid_tv_logits"`` draws the authors' non-standard FID instead (never both).
    """
    cols = _metric_or_message(summary, metric, stem)
    if cols is None:
        return
    mean, low, high, title, name = cols
    apply_theme()
    at, order, colors = _families(_at_epoch(_clean_summary(summary), epoch))
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    handles, names = _draw_vs_lr(ax, at, order, colors, (mean, low, high), name)
    epochs = _range_text(at["epoch"], epochs_text)
    fig.tight_layout()
    set_title(
        fig,
        f"{title} at epoch {epochs} vs learning rate{_datasets(at)}\n"
        f"(mean and 95 % t-CI over seeds with a finite value; {seeds_text(at['n_seeds'])})",
    )
    _legend_right(fig, handles, names)
    common.save_figure(fig, stem)


def plot_fid_over_epochs(summary: pd.DataFrame, stem: Path, metric: str = "fid") -> None:
    """Mean FID ± 95 % t-interval vs epoch, one line per cell; one panel per D learning
    rate when the study has several (wrapped, shared y; log y when FIDs span > 10×)."""
    cols = _metric_or_message(summary, metric, stem)
    if cols is None:
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
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(3.1 * ncol, 2.5 * nrow + 0.3), sharex=True, sharey=True, squeeze=False
    )
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
            handle = _fid_line(
                ax, x, y, lo, hi, colors[family], MARKERS[i % len(MARKERS)], family, band
            )
            _all_diverged(ax, x[~np.isfinite(y)], colors[family])
            legend.setdefault(family, handle)
        if lr is not None:
            ax.set_title(f"{LR_D} = {num_text(lr)}")
    for ax in axes.flat[len(panels) :]:
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
    set_title(
        fig,
        f"{title} during training{_datasets(df)}\n"
        f"(mean and 95 % t-CI over seeds with a finite value; {seeds_text(df['n_seeds'])})",
    )
    _legend_right(fig, handles, names)
    common.save_figure(fig, stem)
