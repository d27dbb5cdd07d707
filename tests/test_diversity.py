"""Precision / recall / density / coverage and KID (closed forms, the prdc package, a direct
KID computation), their place in the image evaluation, and the study tables."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gansweep.data import download, prepare
from gansweep.evaluation import aggregate_image, evaluate_image_job, feature_metrics
from gansweep.metrics import METRICS
from gansweep.metrics import diversity as D
from gansweep.metrics import fid as F
from gansweep.models import MODELS
from gansweep.testing.fixtures import make_cifar10_archive

# ---- PRDC ----------------------------------------------------------------------------------


def test_prdc_closed_form_1d():
    """k = 1: each real ball has radius 1; the fake at 0.5 has radius 9.5 (its nearest fake is 10).
    precision 1/4 (only 0.5 lies in a real ball), recall 1 (all reals in 0.5's ball), density
    (balls of reals 0 and 1 hold 0.5) 2/4, coverage 2/4 (reals 0 and 1 have a fake within 1)."""
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0], [11.0], [12.0]])
    got = D.prdc(real, fake, nearest_k=1)
    assert got == {"precision": 0.25, "recall": 1.0, "density": 0.5, "coverage": 0.5}
    assert METRICS["prdc"] is D.prdc and METRICS["kid"] is D.kid


def test_prdc_identical_sets_and_the_package():
    from prdc import compute_prdc

    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 5)).astype(np.float32)
    same = D.prdc(real, real)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    fake = rng.normal(size=(60, 5)).astype(np.float32) * 2 + 1
    want = compute_prdc(real, fake, nearest_k=5)
    got = D.prdc(real, fake)
    assert got == pytest.approx({k: float(v) for k, v in want.items()}, abs=0)
    assert got["precision"] < 1  # a wider fake distribution: many fakes outside the real balls


def test_prdc_needs_more_samples_than_k():
    with pytest.raises(ValueError, match="at least 7"):
        D.prdc(np.zeros((6, 3)), np.zeros((9, 3)))
    assert np.isfinite(
        D.prdc(np.arange(21.0).reshape(7, 3), np.arange(21.0).reshape(7, 3) + 1)["recall"]
    )


# ---- KID -----------------------------------------------------------------------------------


def _kid_direct(x, y):
    """Unbiased MMD² with k(a, b) = (a·b / d + 1)³, written out as sums over pairs."""
    d = x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_unbiased_estimator_against_direct_sums():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(9, 4)), rng.normal(size=(9, 4)) + 0.7
    # one subset of all samples: a permutation, which the estimator does not see
    got = D.kid(real, fake, subsets=1, subset_size=100)
    assert got["kid_subset_size"] == 9 and got["kid_subsets"] == 1 and got["kid_std"] == 0
    assert got["kid"] == pytest.approx(_kid_direct(fake, real), rel=1e-12)
    # several subsets: mean and (population) std of the direct values on the same draws
    out = D.kid(real, fake, subsets=4, subset_size=5, seed=3)
    draw = np.random.default_rng(3)
    values = []
    for _ in range(4):
        f = fake[draw.choice(9, 5, replace=False)]
        r = real[draw.choice(9, 5, replace=False)]
        values.append(_kid_direct(f, r))
    assert out["kid"] == pytest.approx(np.mean(values), rel=1e-12)
    assert out["kid_std"] == pytest.approx(np.std(values), rel=1e-9)


def test_kid_is_unbiased_where_the_biased_estimate_is_not():
    """Two samples of one distribution: the unbiased MMD² averages to 0 over many subsets."""
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(400, 3)), rng.normal(size=(400, 3))
    out = D.kid(real, fake, subsets=200, subset_size=20)
    assert abs(out["kid"]) < 3 * out["kid_std"] / np.sqrt(200)
    with pytest.raises(ValueError, match="at least 2"):
        D.kid(real[:1], fake)


def test_feature_metrics_row():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    row = feature_metrics(real, fake, ["prdc", "kid"], seed=0)
    assert row["feature_n"] == 12 and row["prdc_k"] == 5 and row["kid_subset_size"] == 12
    assert row["recall"] == D.prdc(real[:12], fake)["recall"]
    small = feature_metrics(real, fake[:6], ["prdc"], seed=0)  # 6 < k + 2: recorded as NaN
    assert np.isnan(small["coverage"]) and "kid" not in small


# ---- in the evaluation and the study tables -------------------------------------------------


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A prepared CIFAR fixture (10 train images), stand-in fid weights, reference statistics and
    one training job with one random dcgan32 generator snapshot."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    d = tmp_path_factory.mktemp("job")
    archive, md5 = make_cifar10_archive(d / "src", n_train_per_batch=2, n_test=2)
    download("cifar10", d / "data", url=archive.as_uri(), md5=md5)
    prepare("cifar10", d / "data", workers=0)
    weights = d / F.FID.file_name
    sha = F.write_standin_weights("fid", weights)
    ref = d / "ref.npz"
    F.compute_reference_stats(
        "fid",
        "cifar10",
        d / "data",
        "train",
        weights,
        ref,
        device="cpu",
        batch_size=5,
        sha256_prefix=sha[:16],
    )
    job_dir = d / "run"
    torch.manual_seed(0)
    pair = MODELS["dcgan32"](z_dim=8)
    (job_dir / "seed1/generators").mkdir(parents=True)
    torch.save(
        {
            "architecture": "dcgan32",
            "z_dim": 8,
            "n_classes": 0,
            "generator": pair.generator.state_dict(),
            "step": 10,
            "epoch": 1.0,
        },
        job_dir / "seed1/generators/step00000010.pt",
    )
    pd.DataFrame({"seed": [1], "diverged_step": [np.nan]}).to_parquet(job_dir / "runs.parquet")
    spec = {
        "study": "s",
        "dataset": "cifar10",
        "cell": "dcgan32-non_saturating-ad1-ag1-lr0.0002",
        "architecture": "dcgan32",
        "objective": "non_saturating",
        "alpha_d": 1.0,
        "alpha_g": 1.0,
        "lr_d": 2e-4,
        "lr_g": 2e-4,
        "seeds": [1],
    }
    return {"dir": d, "ref": ref, "weights": weights, "sha": sha, "job_dir": job_dir, "spec": spec}


def test_reference_keeps_real_features(job):
    ref = F.load_stats(job["ref"], features=True)
    assert ref["features"].shape == (10, 2048) and ref["features"].dtype == np.float32
    assert ref["protocol"]["n_features_kept"] == 10
    # all 10 kept (in a random order): their mean is the statistics' mean
    np.testing.assert_allclose(
        ref["features"].astype(np.float64).mean(0), ref["mu"], rtol=1e-4, atol=1e-5
    )
    assert "features" not in F.load_stats(job["ref"])


def test_evaluation_records_prdc_and_kid_from_the_fid_pass(job, monkeypatch):
    outputs, seen = [], {}
    extract = F.FeatureExtractor.forward

    def recording(self, x):
        outputs.append(extract(self, x))
        return outputs[-1]

    def spy(name, fn):
        def wrapped(real, fake, *args, **kwargs):
            seen[name] = (np.array(real), np.array(fake))
            return fn(real, fake, *args, **kwargs)

        monkeypatch.setattr(D, name, wrapped)

    monkeypatch.setattr(F.FeatureExtractor, "forward", recording)
    monkeypatch.setattr(
        F, "frechet_distance", lambda *args: 1.0
    )  # a 2048² sqrtm: slow, tested apart
    spy("prdc", D.prdc)
    spy("kid", D.kid)
    spec = {
        **job["spec"],
        "eval": {
            "seed": 7,
            "n_samples": 8,
            "metrics": ["fid"],
            "feature_metrics": ["prdc", "kid"],
            "feature_samples": 7,
        },
    }
    table = evaluate_image_job(
        spec,
        job["job_dir"],
        {"fid": job["ref"]},
        {"fid": job["weights"]},
        job["dir"] / "eval.parquet",
        job["dir"] / "images.npz",
        device="cpu",
        batch_size=4,
        weights_sha256={"fid": job["sha"][:16]},
    )
    assert [len(o) for o in outputs] == [4, 4]  # one pass over the generated images gives it all
    row = table.iloc[0]
    assert row["feature_n"] == 7 and row["prdc_k"] == 5 and row["kid_subset_size"] == 7
    for col in ("precision", "recall", "density", "coverage", "kid", "kid_std"):
        assert np.isfinite(row[col]), col
    assert 0 <= row["recall"] <= 1 and 0 <= row["coverage"] <= 1
    # PRDC and KID got the first 7 features of that pass and the first 7 stored real ones
    fake = torch.cat(outputs).float().numpy()[:7]
    real = F.load_stats(job["ref"], features=True)["features"][:7]
    for name in ("prdc", "kid"):
        np.testing.assert_array_equal(seen[name][0], real)
        np.testing.assert_array_equal(seen[name][1], fake)
    assert row["coverage"] == D.prdc(real, fake)["coverage"]
    assert row["kid"] == D.kid(real, fake, seed=7)["kid"]


def test_evaluation_without_features_in_the_reference(job, tmp_path):
    ref = F.load_stats(job["ref"])
    old = tmp_path / "old.npz"
    F.save_stats(old, ref["mu"], ref["sigma"], ref["n"], ref["protocol"])
    spec = {**job["spec"], "eval": {"seed": 7, "n_samples": 4, "metrics": ["fid"]}}
    with pytest.raises(ValueError, match="hold no real features.*reference_stats.*feature_metrics"):
        evaluate_image_job(
            spec,
            job["job_dir"],
            {"fid": old},
            {"fid": job["weights"]},
            tmp_path / "e.parquet",
            tmp_path / "i.npz",
            device="cpu",
            weights_sha256={"fid": job["sha"][:16]},
        )


def test_aggregate_image_summarises_every_metric():
    rows = []
    for lr in (1e-4, 2e-4):
        for seed in (1, 2, 3):
            rows.append(
                dict(
                    study="s",
                    dataset="cifar10",
                    cell=f"dcgan32-hinge-lr{lr:g}",
                    architecture="dcgan32",
                    objective="hinge",
                    alpha_d=np.nan,
                    alpha_g=np.nan,
                    lr_d=lr,
                    lr_g=lr,
                    seed=seed,
                    step=100,
                    epoch=1.0,
                    status="ok",
                    fid=10.0 * seed,
                    precision=0.5,
                    recall=0.1 * seed,
                    density=1.0,
                    coverage=0.2 * seed,
                    kid=0.01 * seed,
                )
            )
    evals = pd.DataFrame(rows)
    train = evals[
        [
            "study",
            "dataset",
            "cell",
            "architecture",
            "objective",
            "alpha_d",
            "alpha_g",
            "lr_d",
            "lr_g",
            "seed",
        ]
    ].assign(status="ok", diverged_step=np.nan)
    train.loc[5, "status"], train.loc[5, "diverged_step"] = "diverged", 50
    evals = evals.drop(index=5)  # the diverged run never reached step 100
    runs, summary = aggregate_image(evals, train)
    assert len(runs) == 6 and runs["recall"].isna().sum() == 1
    assert len(summary) == 2  # one row per cell and checkpoint, whatever the metrics
    row = summary.set_index("lr_d").loc[1e-4]
    assert row["recall_mean"] == pytest.approx(0.2) and row["coverage_mean"] == pytest.approx(0.4)
    assert (
        row["kid_mean"] == pytest.approx(0.02)
        and row["recall_ci_low"] < 0.2 < row["recall_ci_high"]
    )
    other = summary.set_index("lr_d").loc[2e-4]
    assert (
        other["n_seeds"] == 3 and other["n_ok"] == 2 and other["recall_mean"] == pytest.approx(0.15)
    )


def test_feature_metrics_config_cli_and_module_agree():
    import yaml

    from gansweep.cli import build_parser

    schema = yaml.safe_load(
        (Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml").read_text()
    )
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "feature_metrics" in node:
                found.append(node["feature_metrics"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert found and all(f["items"]["enum"] == list(D.FEATURE_METRICS) for f in found)
    args = build_parser().parse_args(
        [
            "evaluate-image",
            "--spec",
            "s",
            "--job-dir",
            "j",
            "--metric",
            "fid",
            "r",
            "w",
            "--n-samples",
            "4",
            "--eval-seed",
            "1",
            "--out",
            "o",
            "--images",
            "i",
            "--feature-metrics",
            *D.FEATURE_METRICS,
        ]
    )
    assert args.feature_metrics == list(D.FEATURE_METRICS) and args.feature_samples == 10_000
