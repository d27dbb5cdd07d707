"""The Snakemake workflow: lint, format, dry-runs, bad config, and the smoke study end to end."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
SMOKE = REPO / "tests/config/ring_smoke.yaml"


def snakemake(*args, cwd, timeout=900):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_lint_and_format_are_clean():
    lint = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_default_config_dry_run(tmp_path):
    out = snakemake("-n", "--configfile", str(REPO / "config.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "train_ring            2" in out.stdout


def test_paper_preset_dry_runs_with_the_full_grid(tmp_path):
    out = snakemake("-n", "--configfile", str(REPO / "presets/ring_paper.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # 27 saturating cells and 49 non-saturating / LSGAN cells × 200 seeds, 600 runs a job.
    assert "train_ring           26" in out.stdout
    assert "job=saturating-lr0.0001-008" in out.stdout and "job=non_saturating-lr0.0001-015" in out.stdout
    assert "job=lsgan-lr0.0001-000" in out.stdout


def test_bad_config_fails_before_any_job_and_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("dataset: ring", "dataset: moons"))
    out = snakemake("--configfile", str(bad), cwd=tmp_path)
    assert out.returncode != 0
    assert "config key 'studies.ring_smoke.dataset': 'moons' is not allowed; allowed values: ring, grid" in out.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_smoke_study_end_to_end(tmp_path):
    out = snakemake("--configfile", str(SMOKE), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-5000:]
    results = tmp_path / "results/ring_smoke"
    runs = pd.read_parquet(results / "runs.parquet")
    required = ["study", "dataset", "objective", "alpha_d", "alpha_g", "lr", "seed", "step", "epoch",
                "modes_covered", "hq_fraction", "kl", "rkl", "jsd", "tvd", "success", "failure", "status"]  # fmt: skip
    assert set(required) <= set(runs.columns)
    # 3 cells (αD 0.5 and 1.0 saturating, LSGAN) × 2 seeds × 3 checkpoints (steps 20, 40, 60)
    assert len(runs) == 18 and sorted(runs.step.unique()) == [20, 40, 60]
    assert runs.loc[runs.objective == "lsgan", "alpha_d"].isna().all()
    summary = pd.read_parquet(results / "summary.parquet")
    assert len(summary) == 9 and (summary.n_seeds == 2).all()
    assert {"success_rate", "success_ci_low", "success_ci_high", "failure_rate", "failure_ci_low",
            "failure_ci_high", "mean_modes"} <= set(summary.columns)  # fmt: skip
    for fig in ("rates_vs_alpha_d", "heat_tables", "coverage_over_training", "sample_scatter"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/{fig}.{ext}").stat().st_size > 5000
    comparison = pd.read_csv(results / "paper_comparison.csv")
    assert set(comparison.alpha_d.dropna()) <= {0.5, 1.0} and len(comparison) > 0
    assert not list(results.glob("checkpoints/*.pt"))
    assert "step 60/60" in (tmp_path / "logs/ring_smoke/train/saturating-lr0.0001-000.log").read_text()

    again = snakemake("-n", "--configfile", str(SMOKE), cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr

    report = snakemake("--configfile", str(SMOKE), "--report", "report.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    assert "rates_vs_alpha_d.png" in html and "paper_comparison.csv" in html


def test_paper_all_dry_runs_every_study(tmp_path):
    out = snakemake("-n", "--configfile", str(REPO / "presets/paper_all.yaml"), cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for rule, count in [("train_ring", 26), ("train_image", 4583), ("evaluate_image", 4583),
                        ("download_dataset", 3), ("reference_stats", 3), ("fetch_weights", 1)]:  # fmt: skip
        assert re.search(rf"^{rule}\s+{count}$", out.stdout, re.M), rule


@pytest.mark.slow
def test_paper_all_smoke_runs_every_rule_end_to_end(tmp_path):
    """Every smoke preset at once: tiny format-exact data, stand-in Inception weights."""
    sources = subprocess.run([str(BIN / "gansweep"), "smoke-sources", "resources/smoke"], cwd=tmp_path,
                             env=ENV, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    out = snakemake("--configfile", str(REPO / "presets/smoke/paper_all.yaml"), sources, cwd=tmp_path, timeout=2400)
    assert out.returncode == 0, out.stderr[-5000:]
    results = tmp_path / "results"
    images = ["cifar10_losses_smoke", "cifar10_stability_smoke", "celeba_alpha_smoke", "lsun_alpha_smoke"]
    for study in images:
        runs = pd.read_parquet(results / study / "runs.parquet")
        assert runs["fid"].notna().all() and (runs["fid"] >= 0).all()
        for col in ("n_fake", "ref_split", "ref_size", "dims", "weights_sha256", "eval_seed"):
            assert runs[col].notna().all(), col
        assert set(runs.dims) == {2048} and set(runs.ref_split) == {"train"}
        summary = pd.read_parquet(results / study / "summary.parquet")
        assert {"fid_mean", "fid_std", "fid_ci_low", "fid_ci_high", "n_seeds"} <= set(summary.columns)
        for fig in ("fid_vs_lr", "fid_over_epochs", "loss_curves", "vanishing_gradients",
                    "interpolations", "class_grids", "sample_grids"):  # fmt: skip
            assert (results / study / f"figures/{fig}.png").stat().st_size > 5000, (study, fig)
    celeba = pd.read_parquet(results / "celeba_alpha_smoke/runs.parquet")
    assert set(celeba.fid_tv_logits_dims) == {1000} and set(celeba.fid_tv_logits_ref_split) == {"test"}
    assert len(celeba.step.unique()) == 2  # every epoch of two
    assert (results / "celeba_alpha_smoke/figures/fid_tv_logits_vs_lr.png").exists()
    assert (results / "ring_paper_smoke/paper_comparison.csv").exists()
    report = snakemake("--configfile", str(REPO / "presets/smoke/paper_all.yaml"), sources,
                       "--report", "report.html", cwd=tmp_path)  # fmt: skip
    assert report.returncode == 0, report.stderr[-3000:]
