"""Training-curve figures: G and D losses, and per-layer counts of vanishing D gradients."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from gansweep.figures import common
from gansweep.figures.common import (
    apply_theme,
    num_text,
    palette_of,
    save_message,
    seeds_text,
    set_title,
)
from gansweep.figures.images.axes import (
    _bins,
    _datasets,
    _legend_right,
    _symlog_if_wide,
    _t_half_width,
    _x_column,
)
from gansweep.figures.images.cells import LR_D, _cell_info, _labels

SMALL_GRAD = 0.01  # the training loop's threshold for ``n_small`` (training/image.py)


def _seed_curves(
    table: pd.DataFrame, x: str, values: list[str], keys: list[str], max_points: int
) -> pd.DataFrame:
    """Per key group and x bin: mean, std and count over seeds of each seed's bin mean."""
    parts = []
    for _, rows in table.groupby("cell", sort=False):
        rows = rows.assign(_bin=_bins(rows[x].to_numpy(dtype=float), max_points))
        per_seed = (
            rows.groupby(keys + ["seed", "_bin"], sort=False)[[x] + values].mean().reset_index()
        )
        agg = per_seed.groupby(keys + ["_bin"], sort=True).agg(
            **{x: (x, "mean")},
            **{f"{v}_mean": (v, "mean") for v in values},
            **{f"{v}_std": (v, "std") for v in values},
            **{f"{v}_n": (v, "count") for v in values},
        )
        parts.append(agg.reset_index())
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _diverged_text(train_runs: pd.DataFrame | None) -> str:
    if train_runs is None or "status" not in train_runs:
        return ""
    k = int((train_runs["status"] == "diverged").sum())
    return f"; {k} of {len(train_runs)} runs diverged (curves end there)" if k else ""


def _seed_counts(table: pd.DataFrame) -> pd.Series:
    return table.groupby("cell")["seed"].nunique()


def plot_loss_curves(
    train_log: pd.DataFrame, train_runs: pd.DataFrame, stem: Path, max_points: int = 200
) -> None:
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
    log[["g_loss", "d_loss"]] = (
        log[["g_loss", "d_loss"]].astype(float).replace([np.inf, -np.inf], np.nan)
    )
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
    fig, axes = plt.subplots(
        len(rows_lr), 2, figsize=(8.0, 2.7 * len(rows_lr) + 0.3), sharex=True, squeeze=False
    )
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
    set_title(
        fig,
        f"Generator and discriminator losses during training{_datasets(train_runs)}\n"
        f"(raw loss values; {binned}mean and 95 % t-CI over seeds;\n"
        f"{seeds_text(_seed_counts(log))}{_diverged_text(train_runs)})",
    )
    _legend_right(fig, handles, order)
    common.save_figure(fig, stem)


def _layer_order(grads: pd.DataFrame, cells: Iterable[str]) -> list[str]:
    """Layer names in forward order (as logged), merged over cells."""
    order: list[str] = []
    for cell in cells:
        for layer in pd.unique(grads.loc[grads["cell"] == cell, "layer"]):
            if layer not in order:
                order.append(layer)
    return order


def plot_vanishing_gradients(
    train_grads: pd.DataFrame,
    train_runs: pd.DataFrame,
    stem: Path,
    max_cells: int = 12,
    max_points: int = 200,
) -> None:
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
    curves = _seed_curves(
        grads[grads["cell"].isin(shown)], x, ["n_small"], ["cell", "layer"], max_points
    )
    with np.errstate(divide="ignore"):
        curves["log_count"] = np.where(
            curves["n_small_mean"] > 0, np.log10(curves["n_small_mean"]), np.nan
        )
    ncol = min(3, len(shown))
    nrow = math.ceil(len(shown) / ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(3.3 * ncol, 2.6 * nrow + 0.3), sharex=True, sharey=True, squeeze=False
    )
    for ax, cell in zip(axes.flat, shown):
        part = curves[curves["cell"] == cell]
        for layer in layers:
            c = part[part["layer"] == layer].sort_values(x)
            if not c.empty:
                ax.plot(c[x], c["log_count"], lw=1.0, color=colors[layer], label=layer)
        ax.set_title(titles[cell], fontsize=8)
    for ax in axes.flat[len(shown) :]:
        ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("training epoch" if x == "epoch" else "training step")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"log$_{{10}}$ count of |∂L/∂w| < {num_text(SMALL_GRAD)}")
    # Lower rows' x labels sit under empty slots when the last row is short.
    for ax in axes.flat[len(shown) - ncol : len(shown)] if len(shown) > ncol else []:
        ax.tick_params(labelbottom=True)
        ax.set_xlabel("training epoch" if x == "epoch" else "training step")
    title = f"Discriminator gradient entries with |∂L/∂w| < {num_text(SMALL_GRAD)} per layer"
    title += _datasets(train_runs)
    more = f"; first {len(shown)} of {len(cells)} cells" if len(cells) > len(shown) else ""
    fig.tight_layout()
    set_title(
        fig,
        f"{title}\n(mean count over seeds, log$_{{10}}$; {seeds_text(_seed_counts(grads))}{more})",
    )
    handles = [Line2D([], [], color=colors[layer], lw=1.5) for layer in layers]
    _legend_right(fig, handles, layers, title="D layer (input → output)")
    common.save_figure(fig, stem)
