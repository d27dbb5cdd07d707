"""Aggregation and confidence intervals."""

import math

import numpy as np
import pandas as pd
import pytest

from gansweep.paper import compare_with_paper, load_paper_ring
from gansweep.tables import collect_runs, summarize, wilson_interval


def wilson_closed_form(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(0, 16), (3, 16), (8, 16), (16, 16), (173, 200)])
def test_wilson_interval_closed_form(k, n):
    assert np.allclose(wilson_interval(k, n), wilson_closed_form(k, n), atol=1e-12)


def fake_runs(n_seeds=10):
    rows = []
    for alpha_d, modes in ((0.3, [8] * 7 + [0] + [5] * 2), (1.0, [8] * 2 + [0] * 5 + [3] * 3)):
        for step in (100, 200):
            for seed, m in zip(range(1, n_seeds + 1), modes):
                rows.append(dict(study="s", dataset="ring", objective="saturating", alpha_d=alpha_d, alpha_g=1.0,
                                 lr=1e-4, step=step, epoch=step / 391, seed=seed, modes_covered=m,
                                 hq_fraction=m / 10, kl=0.1, rkl=0.1, jsd=0.1, tvd=0.1, success=m == 8,
                                 failure=m == 0, status="diverged" if (m == 0 and seed == 8) else "ok"))  # fmt: skip
    return pd.DataFrame(rows)


def test_summary_counts_rates_and_intervals(tmp_path):
    runs = fake_runs()
    paths = []
    for i, part in enumerate(runs.iloc[k : k + 30] for k in range(0, len(runs), 30)):
        paths.append(tmp_path / f"job{i}.parquet")
        part.to_parquet(paths[-1])
    collected = collect_runs(paths)
    assert len(collected) == len(runs)
    summary = summarize(collected)
    row = summary[(summary.alpha_d == 0.3) & (summary.step == 200)].iloc[0]
    assert row.n_seeds == 10 and row.n_success == 7 and row.success_rate == 0.7
    assert np.allclose([row.success_ci_low, row.success_ci_high], wilson_closed_form(7, 10))
    assert row.n_failure == 1 and row.n_diverged == 1
    assert math.isclose(row.mean_modes, (7 * 8 + 10) / 10)
    assert row.mean_modes_ci_low < row.mean_modes < row.mean_modes_ci_high


def test_duplicate_rows_are_an_error(tmp_path):
    runs = fake_runs()
    runs.to_parquet(tmp_path / "a.parquet")
    runs.iloc[:3].to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="duplicate"):
        collect_runs([tmp_path / "a.parquet", tmp_path / "b.parquet"])


def test_paper_comparison_matches_cells_and_checks_the_interval():
    summary = summarize(fake_runs(10))
    table = compare_with_paper(summary)
    # αD = 0.3 (fig2b) and αD = 1.0 (fig2b, table1, table2), αG = 1, success and failure.
    assert set(table["source"]) == {"fig2b", "table1", "table2"}
    row = table[(table.source == "fig2b") & (table.alpha_d == 0.3) & (table.metric == "success_rate")].iloc[0]
    assert row.paper_pct == 87 and math.isclose(row.ours_pct, 70.0)
    assert row.paper_inside_ci == (row.ours_ci_low_pct <= 87 <= row.ours_ci_high_pct)
    assert row.protocol.startswith("early training")
    paper = load_paper_ring()
    assert len(paper) == 115 and set(paper.source) == {"fig2b", "table1", "table2", "table3", "text_lsgan"}
