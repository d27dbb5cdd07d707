"""Aggregation and confidence intervals."""

import math

import numpy as np
import pandas as pd
import pytest

from gansweep.paper import compare_with_paper, load_paper_ring
from gansweep.paper.compare import PAPER_RING_PROTOCOL
from gansweep.tables import CorruptJobTable, collect_runs, summarize, wilson_interval


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
                rows.append(
                    dict(
                        study="s",
                        dataset="ring",
                        objective="saturating",
                        alpha_d=alpha_d,
                        alpha_g=1.0,
                        lr=1e-4,
                        step=step,
                        epoch=step / 391,
                        seed=seed,
                        modes_covered=m,
                        hq_fraction=m / 10,
                        kl=0.1,
                        rkl=0.1,
                        jsd=0.1,
                        tvd=0.1,
                        success=m == 8,
                        failure=m == 0,
                        status="diverged" if (m == 0 and seed == 8) else "ok",
                    )
                )
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
    row = table[
        (table.source == "fig2b") & (table.alpha_d == 0.3) & (table.metric == "success_rate")
    ].iloc[0]
    assert row.paper_pct == 87 and math.isclose(row.ours_pct, 70.0)
    assert row.paper_inside_ci == (row.ours_ci_low_pct <= 87 <= row.ours_ci_high_pct)
    # fake_runs records no protocol fields: never claimed to be the paper's protocol.
    assert not row.same_protocol and "g_hidden not recorded (paper 4)" in row.departs_from_paper
    paper = load_paper_ring()
    assert len(paper) == 115 and set(paper.source) == {
        "fig2b",
        "table1",
        "table2",
        "table3",
        "text_lsgan",
    }


PAPER_STEPS = 400 * 391  # 400 epochs of ceil(50,000 / 128) steps


def protocol_runs(step=PAPER_STEPS, **changes):
    """fake_runs at one checkpoint, with every protocol field the run tables record."""
    runs = fake_runs().query("step == 200").copy()
    runs["step"], runs["epoch"] = step, step / 391
    for field, value in {
        **PAPER_RING_PROTOCOL,
        "steps_total": step,
        "data_seed": 1,
        **changes,
    }.items():
        runs[field] = value
    return runs


def test_paper_comparison_like_with_like():
    table = compare_with_paper(summarize(protocol_runs()))
    assert len(table) and table.same_protocol.all() and (table.departs_from_paper == "").all()


def test_paper_comparison_names_each_departure():
    # A 400-epoch run at lr 1e-3 was labelled "paper length" before: it is not the paper's protocol.
    table = compare_with_paper(summarize(protocol_runs(lr=1e-3)))
    assert not table.same_protocol.any()
    assert (table.departs_from_paper == "lr=0.001 (paper 0.0001)").all()
    # The default quick study: 3,000 steps, 2 hidden layers.
    quick = compare_with_paper(
        summarize(protocol_runs(step=3000, g_hidden=2, d_hidden=2, fresh_noise=True))
    )
    assert (
        quick.departs_from_paper
        == "epochs=7.67 (paper 400); g_hidden=2 (paper 4); d_hidden=2 (paper 4); "
        "fresh_noise=True (paper False)"
    ).all()
    for field, value in [
        ("batch_size", 64),
        ("n_train", 10000),
        ("n_eval_samples", 5000),
        ("beta2", 0.99),
        ("g_width", 128),
        ("d_width", 64),
        ("beta1", 0.5),
        ("r1_gamma", 1.0),
        ("r2_gamma", 0.5),
        ("dtype", "float64"),
    ]:
        row = compare_with_paper(summarize(protocol_runs(**{field: value}))).iloc[0]
        assert (
            row.departs_from_paper == f"{field}={value:g} (paper {PAPER_RING_PROTOCOL[field]:g})"
            if not isinstance(value, str)
            else row.departs_from_paper == "dtype=float64 (paper float32)"
        )


def test_summary_rejects_a_cell_with_mixed_protocols():
    runs = protocol_runs()
    runs.loc[runs.seed == 1, "g_hidden"] = 2
    with pytest.raises(ValueError, match="g_hidden"):
        summarize(runs)


def test_paper_seed_counts_agree_between_tables_and_fig2b():
    """Table I/II's αG = 1 row is the Fig. 2b runs: one seed count per (objective, αD, αG)."""
    paper = load_paper_ring()
    counts = paper.groupby(["objective", "alpha_d", "alpha_g"], dropna=False)["n_seeds"].nunique()
    assert (counts == 1).all(), counts[counts > 1]
    seeds = paper.set_index(["source", "alpha_d", "alpha_g", "metric"])["n_seeds"]
    assert (
        seeds["table1", 0.7, 1.0, "success_rate"]
        == seeds["table2", 0.8, 1.0, "failure_rate"]
        == 199
    )


def test_truncated_job_table_is_named_moved_aside_and_rebuilt(tmp_path):
    runs = fake_runs()
    good, bad = tmp_path / "jobs/a.parquet", tmp_path / "jobs/b.parquet"
    good.parent.mkdir()
    runs.iloc[:20].to_parquet(good)
    runs.iloc[20:].to_parquet(bad)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # a job table that lost its tail
    with pytest.raises(CorruptJobTable) as err:
        collect_runs([good, bad])
    message = str(err.value)
    assert (
        str(bad) in message
        and f"snakemake --forcerun {bad}" in message
        and "b.parquet.corrupt" in message
    )
    assert not bad.exists() and (tmp_path / "jobs/b.parquet.corrupt").exists() and good.exists()
    # Snakemake sees the table missing and reruns its job; aggregation then succeeds.
    runs.iloc[20:].to_parquet(bad)
    assert len(collect_runs([good, bad])) == len(runs)
