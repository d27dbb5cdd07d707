"""Figures for the 2D ring-of-Gaussians study ((αD, αG)-GAN, Welfert et al.).

Every public function takes result tables (pandas DataFrames) and an output
*stem* (a path without suffix) and writes ``stem.png`` (200 dpi) and
``stem.pdf`` atomically. Nothing about the data is hard-coded: the α grids,
objectives, learning rates, checkpoints and seeds all come from the tables.

A *cell* is one hyper-parameter setting: (objective, α_D, α_G, lr). Objectives
without α parameters (e.g. ``lsgan``) have NaN α_D/α_G.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from gansweep.figures.common import (  # noqa: E402
    MARKERS,
    apply_theme,
    epochs_text,
    final_rows,
    num_text,
    palette_of,
    pretty_objective,
    save_figure,
    save_message,
    seeds_text,
    set_title,
)

CELL = ["objective", "alpha_d", "alpha_g", "lr"]
# Display names, used both in labels and as column names of the plotting
# frames (seaborn writes column names into legends and facet titles).
NAMES = {"objective": "objective", "alpha_d": r"$\alpha_D$", "alpha_g": r"$\alpha_G$", "lr": "lr"}
NA = "n/a"  # legend entry for cells without α


# --------------------------------------------------------------------------- helpers


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Copy with numeric α/lr columns (None → NaN) so grouping and sorting behave."""
    df = df.copy()
    for col in ("alpha_d", "alpha_g", "lr"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def _varies(df: pd.DataFrame, col: str) -> bool:
    return col in df and df[col].nunique(dropna=False) > 1


def _cell_label(cell: dict, fields: Iterable[str], sep: str = ", ") -> str:
    """E.g. 'saturating, $\\alpha_G$ = 1'; NaN fields (objectives without α) are left out."""
    parts = []
    for field in fields:
        value = cell[field]
        if field == "objective":
            parts.append(pretty_objective(value))
        elif not pd.isna(value):
            parts.append(f"{NAMES[field]} = {num_text(value)}")
    return sep.join(parts)


def _cells(df: pd.DataFrame, keys: list[str]) -> list[tuple[dict, pd.DataFrame]]:
    """Groups by ``keys`` in sorted order (NaN last), as (key dict, rows) pairs."""
    groups = df.groupby(keys, dropna=False, sort=True)
    return [
        (dict(zip(keys, key if isinstance(key, tuple) else (key,))), rows) for key, rows in groups
    ]


def _checkpoint(rows: pd.DataFrame, prefix: str = "after") -> str:
    """'after 7.7 epochs (3000 steps)' for the last checkpoint in ``rows``."""
    step = int(rows["step"].max())
    text = f"{prefix} {step} steps"
    if "epoch" in rows:
        epoch = float(rows.loc[rows["step"] == step, "epoch"].median())
        text = f"{prefix} {epochs_text(epoch)} epochs ({step} steps)"
    return text


def _percent_text(value: float) -> str:
    """87.5 → '87.5', 100.0 → '100'; blank for missing cells."""
    return "" if pd.isna(value) else f"{round(value, 1):g}"


# --------------------------------------------------------------------------- Fig. 2b


def _alpha_positions(alphas: np.ndarray) -> tuple[dict, float | None]:
    """x position of each α_D: itself when finite; α_D = ∞ (a valid α-loss) gets its own
    slot one step past the largest finite value, behind an axis break, instead of being
    dropped by matplotlib at x = inf."""
    finite = np.sort(alphas[np.isfinite(alphas)])
    x_inf = None
    if np.isinf(alphas).any():
        gap = float(np.median(np.diff(finite))) if len(finite) > 1 else 0.2
        x_inf = float(finite.max()) + 2 * gap if len(finite) else 1.0
    return {a: (x_inf if np.isinf(a) else float(a)) for a in alphas}, x_inf


def _cell_key(row) -> tuple:
    return tuple(
        None if pd.isna(row[k]) else (row[k] if k == "objective" else round(float(row[k]), 12))
        for k in CELL
    )


def significant_cells(comparisons: pd.DataFrame | None, metric: str) -> set[tuple]:
    """Cells whose ``metric`` rate differs from their baseline (Holm-adjusted p < 0.05)."""
    if comparisons is None or comparisons.empty:
        return set()
    rows = _clean(
        comparisons[
            (comparisons["metric"] == f"{metric}_rate") & comparisons["significant"].astype(bool)
        ]
    )
    return {_cell_key(r) for _, r in rows.iterrows()}


def _rate_panel(ax, lines, refs, metric: str, colors: dict, xpos: dict, marked: set) -> None:
    """One rate vs α_D panel: a line + Wilson band per α cell group (α_D = ∞ as a separate
    point past the axis break), a flat band per α-free cell; '*' over cells that differ
    significantly from their baseline."""
    lo, hi = f"{metric}_ci_low", f"{metric}_ci_high"
    band = min(0.2, max(0.06, 0.3 / len(colors)))  # fainter bands when many overlap
    for i, (label, rows) in enumerate(lines):
        rows = rows.sort_values("alpha_d")
        x = rows["alpha_d"].map(xpos).to_numpy(dtype=float)
        y = 100 * rows[f"{metric}_rate"].to_numpy(dtype=float)
        err = 100 * np.abs(
            rows[[lo, hi]].to_numpy(dtype=float).T - rows[f"{metric}_rate"].to_numpy(dtype=float)
        )
        fin = np.isfinite(rows["alpha_d"].to_numpy(dtype=float))
        style = dict(marker=MARKERS[i % len(MARKERS)], ms=4, color=colors[label])
        if fin.any():
            ax.plot(x[fin], y[fin], label=label, **style)
            ax.fill_between(
                x[fin],
                100 * rows[lo][fin],
                100 * rows[hi][fin],
                color=colors[label],
                alpha=band,
                lw=0,
            )
        if fin.sum() == 1:  # a band needs two points; show the CI as an error bar instead
            ax.errorbar(x[fin], y[fin], yerr=err[:, fin], color=colors[label], capsize=2, ls="none")
        if (~fin).any():  # α_D = ∞: its own point and error bar, joined by a dotted line
            ax.errorbar(
                x[~fin],
                y[~fin],
                yerr=err[:, ~fin],
                capsize=2,
                ls="none",
                label=None if fin.any() else label,
                **style,
            )
            if fin.any():
                last = np.flatnonzero(fin)[-1]
                ax.plot(
                    [x[last], x[~fin][0]], [y[last], y[~fin][0]], ls=":", lw=1, color=colors[label]
                )
        for xi, yi, (_, r) in zip(x, y, rows.iterrows()):
            if _cell_key(r) in marked:
                ax.annotate(
                    "*",
                    (xi, yi),
                    xytext=(0, 4),
                    textcoords="offset points",
                    ha="center",
                    fontsize=11,
                    fontweight="bold",
                    color=colors[label],
                )
    for label, row in refs:
        ax.axhline(100 * row[f"{metric}_rate"], ls="--", lw=1.2, color=colors[label], label=label)
        ax.axhspan(100 * row[lo], 100 * row[hi], color=colors[label], alpha=band, lw=0)
        if _cell_key(row) in marked:
            ax.annotate(
                "*",
                (1.0, 100 * row[f"{metric}_rate"]),
                xycoords=("axes fraction", "data"),
                xytext=(2, -4),
                textcoords="offset points",
                fontsize=11,
                fontweight="bold",
                color=colors[label],
            )
    ax.set_ylim(-3, 108)
    ax.set_xlabel(NAMES["alpha_d"])
    ax.set_ylabel(f"{metric} rate (%)")


def _alpha_ticks(axes, alphas: np.ndarray, x_inf: float | None) -> None:
    """Ticks at the α_D values (matplotlib's when there are many), "∞" at its slot, and a
    break mark on every panel's x axis before it. ``axes`` share their x axis."""
    finite = np.sort(alphas[np.isfinite(alphas)])
    if len(finite) <= 10:
        ticks = list(finite)
    else:
        ticks = [t for t in axes[0].get_xticks() if finite.min() <= t <= finite.max()]
    labels = [num_text(t) for t in ticks]
    if x_inf is not None:
        ticks.append(x_inf)
        labels.append("∞")
        cut = (finite.max() + x_inf) / 2 if len(finite) else x_inf - 0.1
        for ax in axes:
            ax.axvline(cut, color="0.6", lw=0.8, ls=(0, (2, 2)))
            ax.text(
                cut,
                0,
                "//",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="center",
                fontsize=9,
                color="0.3",
                backgroundcolor="white",
                clip_on=False,
            )
    axes[0].set_xticks(ticks, labels)


def plot_rates_vs_alpha_d(
    summary: pd.DataFrame, stem: Path, comparisons: pd.DataFrame | None = None
) -> None:
    """Success and failure rate (%) vs α_D at the final checkpoint (the paper's Fig. 2b).

    One line per (objective, α_G[, lr]) with its Wilson 95 % CI as a band; α_D = ∞ has its
    own "∞" tick past an axis break; objectives without α are drawn as horizontal reference
    lines with bands. With ``comparisons`` (comparisons.parquet), '*' marks cells whose
    rate differs from their baseline cell (Fisher exact, Holm-adjusted p < 0.05).
    """
    apply_theme()
    final = _clean(final_rows(summary))
    with_alpha = final[final["alpha_d"].notna()]
    fields = (
        ["objective"]
        + (["alpha_g"] if len(with_alpha) else [])
        + (["lr"] if _varies(final, "lr") else [])
    )
    lines = [
        (_cell_label(k, fields), rows)
        for k, rows in _cells(with_alpha, ["objective", "alpha_g", "lr"])
    ]
    refs = [
        (_cell_label(k, fields), rows.iloc[0])
        for k, rows in _cells(final[final["alpha_d"].isna()], CELL)
    ]
    labels = [label for label, _ in lines + refs]
    colors = dict(zip(labels, palette_of(len(labels))))
    alphas = with_alpha["alpha_d"].unique()
    xpos, x_inf = _alpha_positions(alphas)

    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.9), sharex=True, sharey=True)
    for ax, metric in zip(axes, ("success", "failure")):
        _rate_panel(ax, lines, refs, metric, colors, xpos, significant_cells(comparisons, metric))
        ax.set_title(f"{metric} rate")
    axes[1].tick_params(labelleft=True)
    if len(alphas):
        _alpha_ticks(axes, alphas, x_inf)
    fig.tight_layout()
    note = "shaded: Wilson 95 % CI"
    if comparisons is not None:
        note += "; *: differs from the baseline cell (Fisher exact, Holm p < 0.05)"
    set_title(
        fig,
        f"Success and failure rates vs {NAMES['alpha_d']} {_checkpoint(final)}\n"
        f"({note}; {seeds_text(final['n_seeds'])})",
    )
    handles, _ = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        title=", ".join(NAMES[f] for f in fields),
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
    )
    save_figure(fig, stem)


# --------------------------------------------------------------------------- Tables I–III


def _heat_panel(ax, rows: pd.DataFrame, metric: str, cmap: str, marked: set = frozenset()) -> None:
    """α_G (rows, increasing upward) × α_D (columns) heatmap of a rate in %; '*' after the
    cells that differ significantly from their baseline."""
    table = 100 * rows.pivot_table(index="alpha_g", columns="alpha_d", values=f"{metric}_rate")
    table = table.sort_index(ascending=False)
    annot = table.map(_percent_text)
    for _, r in rows.iterrows():
        if _cell_key(r) in marked:
            annot.loc[r["alpha_g"], r["alpha_d"]] += "*"
    sns.heatmap(
        table,
        ax=ax,
        vmin=0,
        vmax=100,
        cmap=cmap,
        annot=annot,
        fmt="",
        annot_kws={"fontsize": 7},
        linewidths=0.5,
        cbar_kws={"label": f"{metric} (%)"},
    )
    ax.set_xticklabels([num_text(v) for v in table.columns], rotation=0)
    ax.set_yticklabels([num_text(v) for v in table.index], rotation=0)
    ax.set_xlabel(NAMES["alpha_d"])
    ax.set_ylabel(NAMES["alpha_g"])


def plot_heat_tables(
    summary: pd.DataFrame, stem: Path, comparisons: pd.DataFrame | None = None
) -> None:
    """Final-checkpoint success/failure (%) heatmaps over (α_D, α_G), one row per objective[, lr].

    The paper's Tables I–III; objectives without α have no grid: the title names them (their
    rates are in rates_vs_alpha_d). With ``comparisons``, '*' marks cells that differ from
    their baseline (Fisher exact, Holm-adjusted p < 0.05).
    """
    final = _clean(final_rows(summary))
    grid = final[final["alpha_d"].notna() & final["alpha_g"].notna()]
    if grid.empty:
        save_message(stem, "no objective with (αD, αG) parameters in this study")
        return
    apply_theme()
    fields = ["objective"] + (["lr"] if _varies(grid, "lr") else [])
    groups = _cells(grid, ["objective", "lr"])
    n_d, n_g = grid["alpha_d"].nunique(), grid["alpha_g"].nunique()
    width, height = 2 * (2.0 + 0.45 * n_d), len(groups) * (1.5 + 0.3 * n_g)
    fig, axes = plt.subplots(len(groups), 2, figsize=(width, height), squeeze=False)
    for (key, rows), row_axes in zip(groups, axes):
        for ax, metric, cmap in zip(row_axes, ("success", "failure"), ("Greens", "Reds")):
            _heat_panel(ax, rows, metric, cmap, significant_cells(comparisons, metric))
            ax.set_title(f"{_cell_label(key, fields)}\n{metric} rate (%)")
    fig.tight_layout()
    notes = [seeds_text(grid["n_seeds"])]
    if comparisons is not None:
        notes.append("*: differs from the baseline cell, Fisher exact, Holm p < 0.05")
    no_grid = sorted(set(final.loc[final["alpha_d"].isna() | final["alpha_g"].isna(), "objective"]))
    if no_grid:  # never leave cells out without saying so
        notes.append(f"not shown, no α grid: {', '.join(map(pretty_objective, no_grid))}")
    set_title(fig, f"Success and failure rates (%) {_checkpoint(final)}\n({'; '.join(notes)})")
    save_figure(fig, stem)


# --------------------------------------------------------------------------- coverage


def _alpha_levels(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """α values as legend strings ('n/a' for NaN), plus their numeric order."""
    levels = [num_text(v) for v in np.sort(values.dropna().unique())]
    if values.isna().any():
        levels.append(NA)
    return values.map(lambda v: NA if pd.isna(v) else num_text(v)), levels


def dataset_modes(runs: pd.DataFrame) -> int:
    """The mode count of the runs' dataset (8 on the ring, 25 on the grid)."""
    from gansweep.data.toy2d import DATASETS

    names = runs["dataset"].dropna().unique() if "dataset" in runs else []
    if len(names) != 1 or names[0] not in DATASETS:
        raise ValueError(
            f"coverage_over_training needs the runs of one 2D dataset "
            f"({', '.join(DATASETS)}); the table has dataset {list(names)}"
        )
    return DATASETS[names[0]]().n_modes


def plot_coverage_over_training(runs: pd.DataFrame, stem: Path, n_modes: int | None = None) -> None:
    """Mean modes covered (0..n_modes, the dataset's mode count) vs training epoch, with 95 %
    CI over seeds.

    Up to 8 cells: one panel, one coloured line per cell. More cells: one panel
    per objective (rows per lr), colour = α_D and line style = α_G.
    """
    apply_theme()
    runs = _clean(runs)
    n_modes = dataset_modes(runs) if n_modes is None else n_modes
    cells = _cells(runs, CELL)
    show_lr = _varies(runs, "lr")
    data = pd.DataFrame(
        {
            "training epoch": runs["epoch"],
            "modes covered": runs["modes_covered"],
            "objective": runs["objective"].map(pretty_objective),
            "lr": runs["lr"].map(num_text),
        }
    )
    facet = len(cells) > 8
    one_checkpoint = runs["step"].nunique() == 1  # a band needs two epochs; use error bars
    style = dict(
        errorbar=("ci", 95),
        seed=0,
        n_boot=1000,
        markers=True,
        dashes=True,
        err_style="bars" if one_checkpoint else "band",
        height=2.6,
        aspect=1.25,
    )
    if facet:
        data[NAMES["alpha_d"]], d_levels = _alpha_levels(runs["alpha_d"])
        data[NAMES["alpha_g"]], g_levels = _alpha_levels(runs["alpha_g"])
        colors = sns.color_palette("viridis", len(d_levels) - (NA in d_levels))
        palette = dict(zip([lv for lv in d_levels if lv != NA], colors)) | {NA: (0.4, 0.4, 0.4)}
        wrap = {} if show_lr else {"col_wrap": min(3, data["objective"].nunique())}
        g = sns.relplot(
            data,
            kind="line",
            x="training epoch",
            y="modes covered",
            col="objective",
            row="lr" if show_lr else None,
            hue=NAMES["alpha_d"],
            hue_order=d_levels,
            palette=palette,
            style=NAMES["alpha_g"],
            style_order=g_levels,
            **wrap,
            **style,
        )
        g.set_titles("{col_name}" if not show_lr else "{col_name}, lr = {row_name}")
    else:
        fields = CELL if show_lr else CELL[:3]
        order = [_cell_label(k, fields) for k, _ in cells]
        data["cell"] = [
            _cell_label(dict(zip(CELL, r)), fields) for r in runs[CELL].itertuples(index=False)
        ]
        g = sns.relplot(
            data,
            kind="line",
            x="training epoch",
            y="modes covered",
            hue="cell",
            hue_order=order,
            palette=palette_of(len(order)),
            style="cell",
            style_order=order,
            **style,
        )
    step = next(k for k in (1, 2, 5, 10, 20, 50, 100, 10**9) if n_modes / k <= 10)  # ≤ 11 ticks
    g.set(ylim=(0, n_modes * 1.025), yticks=sorted(set(range(0, n_modes + 1, step)) | {n_modes}))
    g.set_axis_labels("training epoch", f"modes covered (of {n_modes})")
    n_seeds = runs.groupby(CELL, dropna=False)["seed"].nunique()
    g.tight_layout()  # the grid's version also leaves room for its outside legend
    set_title(
        g.figure,
        f"Modes covered during training, {_checkpoint(runs, 'up to')}\n"
        f"(mean and 95 % CI over seeds; {seeds_text(n_seeds)})",
    )
    save_figure(g.figure, stem)


# --------------------------------------------------------------------------- samples


def _ring_panel(ax, points: pd.DataFrame, modes: pd.DataFrame, radius: float, lim: float) -> None:
    """Generated points, true mode means and their 3σ high-quality circles."""
    ax.scatter(points["x"], points["y"], s=2, alpha=0.3, lw=0, color="C0", rasterized=True)
    ax.scatter(modes["x"], modes["y"], s=5, marker="+", lw=0.5, color="C3", zorder=3)
    for mx, my in modes[["x", "y"]].itertuples(index=False):
        ax.add_patch(Circle((mx, my), radius, fill=False, ec="C3", lw=0.6, zorder=3))
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")


def plot_sample_scatter(
    samples: pd.DataFrame, modes: pd.DataFrame, std: float, stem: Path, max_cells: int = 12
) -> None:
    """Generated samples at the final checkpoint: rows = cells (sorted), columns = seeds."""
    samples = _clean(samples)
    if samples.empty:
        save_message(stem, "no generated samples to show")
        return
    apply_theme()
    cells = _cells(samples, CELL)
    shown = cells[:max_cells]
    seeds = sorted(pd.concat([rows["seed"] for _, rows in shown]).unique())
    fields = CELL if _varies(samples, "lr") else CELL[:3]
    lim = float(np.abs(modes[["x", "y"]].to_numpy()).max()) + 0.5
    radius = 3 * float(std)

    size = 1.3  # inches per square panel
    figsize = (size * len(seeds) + 1.2, size * len(shown) + 0.8)
    fig, axes = plt.subplots(
        len(shown), len(seeds), figsize=figsize, sharex=True, sharey=True, squeeze=False
    )
    for (key, rows), row_axes in zip(shown, axes):
        for seed, ax in zip(seeds, row_axes):
            points = rows[rows["seed"] == seed]
            if points.empty:  # this seed was not kept for this cell
                ax.set_axis_off()
                continue
            _ring_panel(ax, points, modes, radius, lim)
        row_axes[0].set_ylabel(_cell_label(key, fields, sep="\n"), fontsize=7)
    for seed, ax in zip(seeds, axes[0]):
        ax.set_title(f"seed {seed}")
    for ax in axes.flat:
        ax.label_outer()

    legend = [
        Line2D([], [], ls="", marker="o", ms=3, color="C0", alpha=0.6, label="generated sample"),
        Line2D([], [], ls="", marker="+", ms=6, color="C3", label="true mode mean"),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=6,
            mfc="none",
            color="C3",
            label=f"3σ high-quality zone (σ = {num_text(float(std))})",
        ),
    ]
    title = "Generated samples"
    title += f" {_checkpoint(samples)}" if "step" in samples else " at the final checkpoint"
    if len(cells) > len(shown):
        title += f"\n(first {len(shown)} of {len(cells)} cells)"
    fig.tight_layout()
    set_title(fig, title)
    fig.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    save_figure(fig, stem)


from gansweep.figures.ring_losses import plot_rates_by_loss  # noqa: E402  (the loss-zoo figure)

FIGURES = {
    "rates_vs_alpha_d": plot_rates_vs_alpha_d,
    "heat_tables": plot_heat_tables,
    "coverage_over_training": plot_coverage_over_training,
    "sample_scatter": plot_sample_scatter,
    "rates_by_loss": plot_rates_by_loss,  # only for studies with figures.rates_by_loss
}
