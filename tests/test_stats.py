"""Significance tests against published worked examples and library reference values."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gansweep.power import detectable_rates
from gansweep.stats import (
    BaselineError,
    compare_fid,
    compare_rates,
    difference_of_proportions,
    ring_power_table,
)


@pytest.mark.parametrize(
    "k1, n1, k0, n0, low, high",
    [
        # Newcombe (1998), Stat. Med. 17:873, Table II, method 10 (hybrid score), examples (a)-(c).
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_newcombe_interval_matches_the_published_examples(k1, n1, k0, n0, low, high):
    d = difference_of_proportions(k1, n1, k0, n0)
    assert math.isclose(d["difference"], k1 / n1 - k0 / n0)
    assert round(d["ci_low"], 4) == low and round(d["ci_high"], 4) == high


def test_fisher_exact_is_the_tea_tasting_example():
    # Fisher's lady tasting tea: 3 of 4 right in each row, two-sided p = 34/70.
    assert math.isclose(difference_of_proportions(3, 4, 1, 4)["p_value"], 34 / 70)


def summary_rows(cells, study="s", step=100):
    """A ring summary: cells = [(objective, αD, αG, lr, n_success, n_failure, n_seeds)]."""
    rows = []
    for objective, ad, ag, lr, ks, kf, n in cells:
        rows.append(
            dict(
                study=study,
                dataset="ring",
                objective=objective,
                alpha_d=ad,
                alpha_g=ag,
                lr=lr,
                step=step,
                epoch=step / 10,
                n_seeds=n,
                n_success=ks,
                n_failure=kf,
                success_rate=ks / n,
                failure_rate=kf / n,
            )
        )
    return pd.DataFrame(rows)


def test_rates_against_the_vanilla_baseline_with_holm():
    summary = summary_rows(
        [
            ("saturating", 0.3, 1.0, 1e-4, 174, 4, 200),
            ("saturating", 0.5, 1.0, 1e-4, 159, 9, 200),
            ("saturating", 1.0, 1.0, 1e-4, 93, 59, 200),
            ("saturating", 0.9, 1.0, 1e-4, 108, 32, 200),
        ]
    )
    table = compare_rates(summary)
    assert len(table) == 8
    success = table[table.metric == "success_rate"].set_index("alpha_d")
    assert (success.baseline_alpha_d == 1.0).all() and success.loc[1.0, "is_baseline"]
    assert np.isnan(success.loc[1.0, "p_value"])
    expected = [stats.fisher_exact([[k, 200 - k], [93, 107]]).pvalue for k in (174, 159, 108)]
    np.testing.assert_allclose(success.loc[[0.3, 0.5, 0.9], "p_value"], expected)
    # Holm by hand: sort ascending, multiply by (m - rank), running maximum, cap at 1.
    order = np.argsort(expected)
    holm = np.minimum(1, np.maximum.accumulate(np.array(expected)[order] * (3 - np.arange(3))))
    np.testing.assert_allclose(success.loc[[0.3, 0.5, 0.9], "p_holm"].to_numpy()[order], holm)
    assert success.loc[0.3, "significant"] and not success.loc[0.9, "significant"]
    row = success.loc[0.3]
    assert (
        math.isclose(row.difference, (174 - 93) / 200) and row.ci_low < row.difference < row.ci_high
    )


def test_default_baseline_is_vanilla_at_the_same_lr_else_the_first_cell():
    summary = summary_rows(
        [
            ("non_saturating", 0.5, 1.2, 1e-3, 9, 0, 10),
            ("non_saturating", 1.0, 1.0, 1e-4, 2, 0, 10),
            ("non_saturating", 1.0, 1.0, 1e-3, 3, 0, 10),
            ("lsgan", np.nan, np.nan, 1e-4, 5, 0, 10),
            ("hinge", np.nan, np.nan, 1e-2, 5, 0, 10),
        ]
    )
    t = compare_rates(summary).query("metric == 'success_rate'").set_index("objective")
    ns = t.loc["non_saturating"].set_index("lr")
    assert (ns.baseline_lr == ns.index).all() and (ns.baseline_alpha_d == 1.0).all()
    assert (
        t.loc["lsgan", "baseline_objective"] == "non_saturating"
    )  # the vanilla GAN at the same lr
    assert t.loc["lsgan", "baseline_lr"] == 1e-4
    hinge = t.loc["hinge"]  # nothing at lr 1e-2: the study's first cell
    assert hinge.baseline_alpha_d == 0.5 and hinge.baseline_lr == 1e-3


def test_configured_baseline_and_a_wrong_one():
    summary = summary_rows(
        [
            ("saturating", 0.3, 1.0, 1e-4, 14, 0, 16),
            ("saturating", 1.0, 1.0, 1e-4, 6, 2, 16),
            ("lsgan", np.nan, np.nan, 1e-4, 5, 0, 16),
        ]
    )
    t = compare_rates(summary, {"s": {"objective": "lsgan"}})
    assert (t.baseline_objective == "lsgan").all() and t.query(
        "objective == 'lsgan'"
    ).is_baseline.all()
    with pytest.raises(BaselineError, match=r"studies\.s\.baseline: .* saturating alpha_d=0\.3"):
        compare_rates(summary, {"s": {"objective": "saturating", "alpha_d": 0.7}})


def test_fid_welch_and_mann_whitney_with_diverged_runs_ranked_worst():
    rng = np.random.default_rng(0)
    rows = []
    fids = {
        "base": rng.normal(60, 5, 12),
        "good": rng.normal(50, 5, 12),
        "flaky": np.r_[rng.normal(45, 5, 9), [np.nan] * 3],
    }
    for i, (cell, values) in enumerate(fids.items()):
        ad = 1.0 if cell == "base" else 0.6 + 0.1 * i
        for seed, v in enumerate(values):
            for step, scale in ((10, 3.0), (20, 1.0)):  # only the last checkpoint counts
                rows.append(
                    dict(
                        study="img",
                        cell=cell,
                        objective="non_saturating",
                        alpha_d=ad,
                        alpha_g=1.0,
                        lr_d=2e-4,
                        lr_g=2e-4,
                        seed=seed,
                        step=step,
                        epoch=step,
                        fid=v * scale,
                    )
                )
    t = compare_fid(pd.DataFrame(rows)).set_index("cell")
    assert t.loc["base", "is_baseline"] and (t.baseline_cell == "base").all()
    welch = stats.ttest_ind(fids["good"], fids["base"], equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert math.isclose(t.loc["good", "p_value"], welch.pvalue)
    assert math.isclose(t.loc["good", "ci_low"], ci.low) and math.isclose(
        t.loc["good", "ci_high"], ci.high
    )
    assert t.loc["flaky", "n_finite"] == 9 and t.loc["flaky", "n"] == 12
    flaky = np.where(np.isnan(fids["flaky"]), np.inf, fids["flaky"])
    assert math.isclose(
        t.loc["flaky", "p_mannwhitney"], stats.mannwhitneyu(flaky, fids["base"]).pvalue
    )
    # Holm with two tests: the smaller p doubled, the larger no smaller than that.
    small, large = sorted(t.loc[["good", "flaky"], "p_value"])
    assert sorted(t.loc[["good", "flaky"], "p_holm"]) == pytest.approx(
        [min(1, 2 * small), max(min(1, 2 * small), large)]
    )


def test_power_table_per_study():
    summary = summary_rows(
        [("saturating", 0.3, 1.0, 1e-4, 14, 0, 16), ("saturating", 1.0, 1.0, 1e-4, 6, 2, 16)]
    )
    table = ring_power_table(compare_rates(summary))
    row = table.iloc[0]
    # Fisher's exact test, the one compare_rates runs (tests/test_power.py checks the numbers).
    assert len(table) == 1 and row.seeds_per_cell == 16 and row.seeds_needed == 24
    assert row.test == row.seeds_needed_test == "fisher_exact"
    assert row.alpha_per_comparison_before_holm == pytest.approx(0.05)
    assert round(row.power, 3) == 0.556 and row.baseline_success_rate == 6 / 16
    lo, hi, _ = detectable_rates(16, 6 / 16)
    # 16 seeds tell no rate below 37.5 % from it: NaN there, blank in power.csv.
    assert lo is None and math.isnan(row.detectable_rate_below)
    assert row.detectable_rate_above == hi and 0.8 < hi < 0.9


def test_the_baseline_config_key_is_validated():
    from conftest import tiny_study

    from gansweep.config import ConfigError, validate_config

    ok = validate_config(
        {"studies": {"s": tiny_study(baseline={"objective": "saturating", "alpha_d": 1.0})}}
    )
    assert ok["studies"]["s"]["baseline"] == {"objective": "saturating", "alpha_d": 1.0}
    with pytest.raises(ConfigError, match=r"studies\.s\.baseline\.objective"):
        validate_config({"studies": {"s": tiny_study(baseline={"objective": "vanilla"})}})
    with pytest.raises(ConfigError, match=r"studies\.s\.baseline"):
        validate_config(
            {"studies": {"s": tiny_study(baseline={"objective": "saturating", "seed": 1})}}
        )


def test_cli_compare_and_seeds_needed(tmp_path, capsys):
    from gansweep.cli import main

    summary = summary_rows(
        [("saturating", 0.3, 1.0, 1e-4, 15, 0, 16), ("saturating", 1.0, 1.0, 1e-4, 4, 6, 16)]
    )
    summary.to_parquet(tmp_path / "summary.parquet")
    main(
        [
            "compare",
            "--study=s",
            f"--summary={tmp_path / 'summary.parquet'}",
            "--baseline=",
            f"--out={tmp_path / 'comparisons.parquet'}",
            f"--csv={tmp_path / 'comparisons.csv'}",
        ]
    )
    table = pd.read_parquet(tmp_path / "comparisons.parquet")
    assert (
        len(table) == 4
        and table.query("alpha_d == 0.3 and metric == 'success_rate'").significant.item()
    )
    main(
        [
            "seeds-needed",
            "--rates",
            "0.465",
            "0.87",
            "--seeds",
            "16",
            f"--comparisons={tmp_path / 'comparisons.parquet'}",
            f"--out={tmp_path / 'power.csv'}",
        ]
    )
    out = capsys.readouterr().out
    assert "24 seeds per cell" in out and "16 seeds per cell give power 0.556" in out
    power = pd.read_csv(tmp_path / "power.csv")
    assert power.seeds_needed.item() == 24 and power.seeds_per_cell.item() == 16
    assert power.test.item() == "fisher_exact" and power.seeds_needed_test.item() == "fisher_exact"
