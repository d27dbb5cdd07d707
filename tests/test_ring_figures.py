"""Ring figures show every cell, for every dataset (checked on the plotted data, not pixels)."""

import numpy as np
import pandas as pd
import pytest

import gansweep.figures.ring as ring
from gansweep.stats import compare_rates


@pytest.fixture
def drawn(monkeypatch):
    """The figures a plot function would have saved, kept open for inspection."""
    figures = []
    monkeypatch.setattr(ring, "save_figure", lambda fig, stem: figures.append(fig))
    yield figures
    for fig in figures:
        ring.plt.close(fig)


def summary_with_infinity():
    rows = []
    for ad, ks, kf in ((0.3, 15, 0), (1.0, 4, 6), (np.inf, 9, 3)):
        rows.append(
            dict(
                study="s",
                dataset="ring",
                objective="saturating",
                alpha_d=ad,
                alpha_g=1.0,
                lr=1e-4,
                step=3000,
                epoch=7.7,
                n_seeds=16,
                n_success=ks,
                n_failure=kf,
                success_rate=ks / 16,
                failure_rate=kf / 16,
                success_ci_low=ks / 16 - 0.1,
                success_ci_high=ks / 16 + 0.1,
                failure_ci_low=max(0, kf / 16 - 0.1),
                failure_ci_high=kf / 16 + 0.1,
            )
        )
    return pd.DataFrame(rows)


def plotted_points(ax):
    """Every (x, y) drawn as a marker on the axes (lines and error-bar markers)."""
    points = set()
    for line in ax.get_lines():
        if line.get_marker() not in (None, "None", "", " "):
            points |= {
                (round(float(x), 6), round(float(y), 6))
                for x, y in zip(line.get_xdata(), line.get_ydata())
            }
    return points


def test_rates_vs_alpha_d_draws_the_infinite_alpha_cell(drawn):
    summary = summary_with_infinity()
    ring.plot_rates_vs_alpha_d(summary, "unused")
    success, failure = drawn[0].axes[:2]
    labels = [t.get_text() for t in success.get_xticklabels()]
    assert labels == ["0.3", "1", "∞"]
    x_inf = success.get_xticks()[-1]
    assert np.isfinite(x_inf) and x_inf > 1.0
    assert (round(x_inf, 6), round(100 * 9 / 16, 6)) in plotted_points(success)
    assert (round(x_inf, 6), round(100 * 3 / 16, 6)) in plotted_points(failure)
    assert {(0.3, 93.75), (1.0, 25.0)} <= plotted_points(success)
    assert success.get_xlim()[1] > x_inf  # on the axes, not clipped


def test_rates_figures_mark_significant_cells(drawn):
    summary = summary_with_infinity()
    comparisons = compare_rates(summary)  # baseline: αD = αG = 1
    significant = comparisons.query("metric == 'success_rate' and significant")
    assert set(significant.alpha_d) == {0.3}  # 15/16 vs 4/16; ∞ (9/16) is not
    ring.plot_rates_vs_alpha_d(summary, "unused", comparisons)
    stars = [a for a in drawn[0].axes[0].texts if a.get_text() == "*"]
    assert len(stars) == 1 and stars[0].xy == (0.3, pytest.approx(93.75))
    assert "Holm" in drawn[0]._suptitle.get_text()

    ring.plot_heat_tables(summary, "unused", comparisons)
    texts = [t.get_text() for t in drawn[1].axes[0].texts]
    assert "93.8*" in texts and "25" in texts and "56.2" in texts


def coverage_runs(dataset, modes):
    return pd.DataFrame(
        [
            dict(
                study="s",
                dataset=dataset,
                objective="saturating",
                alpha_d=1.0,
                alpha_g=1.0,
                lr=1e-4,
                seed=seed,
                step=step,
                epoch=step / 10,
                modes_covered=m,
            )
            for seed, m in enumerate(modes)
            for step in (10, 20)
        ]
    )


@pytest.mark.parametrize("dataset, n_modes", [("ring", 8), ("grid", 25)])
def test_coverage_uses_the_dataset_mode_count(drawn, dataset, n_modes):
    ring.plot_coverage_over_training(coverage_runs(dataset, [n_modes, n_modes - 3, 2]), "unused")
    ax = drawn[0].axes[0]
    assert ax.get_ylabel() == f"modes covered (of {n_modes})"
    assert ax.get_ylim()[1] >= n_modes and max(ax.get_yticks()) == n_modes
    top = max(y for line in ax.get_lines() for y in line.get_ydata() if np.isfinite(y))
    assert top <= ax.get_ylim()[1]


def test_rates_by_loss_takes_the_comparisons_the_pipeline_passes_and_marks_them(
    tmp_path, monkeypatch
):
    """The workflow hands every rate figure summary + comparisons (the zoo's figure once failed
    on the second table); '*' marks the significant success rate, as in rates_vs_alpha_d."""
    from gansweep import cli
    from gansweep.figures import ring_losses

    summary = summary_with_infinity().assign(
        mean_modes=5.0, mean_modes_ci_low=4.0, mean_modes_ci_high=6.0
    )
    comparisons = compare_rates(summary)
    paths = [tmp_path / "summary.parquet", tmp_path / "comparisons.parquet"]
    summary.to_parquet(paths[0])
    comparisons.to_parquet(paths[1])
    figures = []
    monkeypatch.setattr(ring_losses, "save_figure", lambda fig, stem: figures.append(fig))
    cli.main(
        [
            "figure",
            "rates_by_loss",
            "--dataset=ring",
            f"--out={tmp_path / 'f.png'}",
            "--",
            *map(str, paths),
        ]
    )
    (fig,) = figures
    stars = [a for a in fig.axes[0].texts if a.get_text() == "*"]
    assert len(stars) == 1 and stars[0].xy[1] == 0  # the top bar: αD 0.3, 15/16
    failure = [a for a in fig.axes[1].texts if a.get_text() == "*"]  # 0/16 vs 6/16, Holm p = 0.035
    assert len(failure) == 1 and failure[0].xy[1] == 0
    assert not [a for a in fig.axes[2].texts if a.get_text() == "*"]  # modes are not tested
    assert "Holm" in fig._suptitle.get_text()
    ring.plt.close(fig)
