"""Every architecture × loss trains on format-exact fixtures; kill + resume; divergence."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from gansweep.config import validate_config
from gansweep.data import download, prepare
from gansweep.plan import image_jobs
from gansweep.testing.fixtures import make_celeba_zip, make_cifar10_archive, make_lsun_zip
from gansweep.training import image as image_training
from gansweep.training.image import run_image_job

ARCH_DATA = {
    "dcgan32": "cifar10",
    "sngan_resnet32": "cifar10",
    "acgan32": "cifar10",
    "dcgan64": "celeba",
    "dcgan112": "lsun_classroom",
}
LOSSES = {
    "saturating": {"objective": "saturating", "lr": [2e-4]},
    "alpha_ns": {"objective": "non_saturating", "alpha_d": [0.6], "alpha_g": [1.2], "lr": [2e-4]},
    "lsgan": {"objective": "lsgan", "lr": [2e-4]},
    "wgan": {"objective": "wgan", "lr": [5e-5], "optimizer": "rmsprop", "n_critic": 2},
    "wgan_gp": {"objective": "wgan_gp", "lr_d": [2e-4], "lr_g": [1e-4], "betas": [0.0, 0.9]},
    "hinge": {"objective": "hinge", "lr": [2e-4], "betas": [0.0, 0.9]},
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    src = tmp_path_factory.mktemp("sources")
    root = tmp_path_factory.mktemp("data")
    archive, md5 = make_cifar10_archive(src / "cifar", n_train_per_batch=8, n_test=4)
    download("cifar10", root, url=archive.as_uri(), md5=md5)
    celeba, celeba_md5 = make_celeba_zip(src / "celeba", n=10)
    download("celeba", root, url=str(celeba), md5=celeba_md5)
    download("lsun_classroom", root, url=make_lsun_zip(src / "lsun", n=8).as_uri(), n_images=8)
    for name in ARCH_DATA.values():
        prepare(name, root, workers=0)
    return root


def job_spec(root, arch, grid, seeds=(1,), steps=2, **execution):
    study = {
        "dataset": ARCH_DATA[arch],
        "architecture": arch,
        "grids": [grid],
        "seeds": list(seeds),
        "train": {"steps": steps, "batch_size": 4},
        "log": {"every": 1},
        "execution": {
            "threads": 1,
            "device": "cpu",
            "checkpoint_every": 2,
            "seeds_per_job": len(seeds),
            **execution,
        },
    }
    config = validate_config({"studies": {"s": study}})
    jobs = image_jobs("s", config["studies"]["s"], str(root))
    assert len(jobs) == 1
    return next(iter(jobs.values()))


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("arch", ARCH_DATA)
def test_every_architecture_trains_with_every_loss(data_root, tmp_path, arch, loss):
    spec = job_spec(data_root, arch, LOSSES[loss])
    run_image_job(spec, tmp_path, log=open(os.devnull, "w"))
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert runs.status.tolist() == ["ok"] and runs.step.tolist() == [2]
    log = pd.read_parquet(tmp_path / "log.parquet")
    assert log.step.tolist() == [1, 2]
    for col in ("d_loss", "g_loss", "d_real", "d_fake", "wall_time_s"):
        assert log[col].notna().all() and torch.isfinite(torch.tensor(log[col].values)).all()
    grads = pd.read_parquet(tmp_path / "grads.parquet")
    assert grads.layer.nunique() >= 5 and (grads.n_small <= grads.n_entries).all()
    assert (grads.grad_norm > 0).all()
    grids = sorted(p.name for p in (tmp_path / "seed1/samples").iterdir())
    assert grids[0] == "epoch_000.png" and grids[-1] == f"epoch_{math.ceil(runs.epoch[0]):03d}.png"
    final = torch.load(tmp_path / "seed1/final.pt", weights_only=False)
    assert final["architecture"] == arch and final["step"] == 2


def test_learning_rates_optimisers_and_n_critic_are_applied(data_root):
    spec = job_spec(data_root, "dcgan32", LOSSES["wgan_gp"])
    trainer = image_training.ImageTrainer(spec, 1, log=open(os.devnull, "w"))
    assert isinstance(trainer.opt_d, torch.optim.Adam) and trainer.opt_d.defaults["betas"] == (
        0.0,
        0.9,
    )
    assert trainer.opt_d.defaults["lr"] == 2e-4 and trainer.opt_g.defaults["lr"] == 1e-4
    spec = job_spec(data_root, "dcgan32", LOSSES["wgan"])
    trainer = image_training.ImageTrainer(spec, 1, log=open(os.devnull, "w"))
    assert isinstance(trainer.opt_d, torch.optim.RMSprop)
    trainer.train_step()
    assert trainer.consumed == 2  # n_critic = 2 real batches per generator step
    assert (
        max(float(p.detach().abs().max()) for p in trainer.D.parameters()) <= 0.01 + 1e-9
    )  # clipped


def test_same_seed_same_result_and_divergence_is_recorded(data_root, tmp_path, monkeypatch):
    spec = job_spec(data_root, "dcgan32", LOSSES["hinge"], seeds=(1, 2), steps=3)
    run_image_job(spec, tmp_path / "a", log=open(os.devnull, "w"))
    run_image_job(spec, tmp_path / "b", log=open(os.devnull, "w"))
    for seed in (1, 2):
        a = torch.load(tmp_path / f"a/seed{seed}/final.pt", weights_only=False)["generator"]
        b = torch.load(tmp_path / f"b/seed{seed}/final.pt", weights_only=False)["generator"]
        assert all(torch.equal(a[k], b[k]) for k in a)

    original = image_training.ImageTrainer.train_step

    def poisoned(self):
        stats = original(self)
        if self.seed == 1 and self.step == 2:
            stats["g_loss"] = torch.tensor(float("nan"))
        return stats

    monkeypatch.setattr(image_training.ImageTrainer, "train_step", poisoned)
    run_image_job(spec, tmp_path / "c", log=open(os.devnull, "w"))
    runs = pd.read_parquet(tmp_path / "c/runs.parquet").set_index("seed")
    assert runs.loc[1, "status"] == "diverged" and runs.loc[1, "diverged_step"] == 2
    assert "non-finite g_loss at step 2" in runs.loc[1, "reason"]
    assert runs.loc[2, "status"] == "ok" and runs.loc[2, "step"] == 3  # the job went on


def test_image_training_writes_plain_progress_lines_to_a_log_file(data_root, tmp_path):
    import io
    import re

    spec = job_spec(data_root, "dcgan32", LOSSES["hinge"], steps=3)
    log = io.StringIO()
    run_image_job(spec, tmp_path, log=log)
    lines = [line for line in log.getvalue().splitlines() if " step " in line]
    assert "\r" not in log.getvalue()
    assert [re.search(r"step (\d)/3", line).group(1) for line in lines] == ["1", "2", "3"]
    pattern = r"^s/\S+ seed 1 step 3/3 \(100%\) \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(step/s|s/step), epoch=\S+, d_loss=\S+, g_loss=\S+\]$"
    assert re.match(pattern, lines[-1]), lines[-1]


def test_a_corrupt_image_checkpoint_is_moved_aside_and_the_seed_restarts(data_root, tmp_path):
    import io

    spec = job_spec(data_root, "dcgan32", LOSSES["hinge"])
    run_image_job(spec, tmp_path / "clean", log=open(os.devnull, "w"))
    clean = torch.load(tmp_path / "clean/seed1/final.pt", weights_only=False)["generator"]

    trainer = image_training.ImageTrainer(spec, 1, log=open(os.devnull, "w"))
    trainer.train_step()
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    good = buffer.getvalue()
    for damage, damaged in (
        ("random", os.urandom(len(good))),
        ("truncated", good[: len(good) // 2]),
    ):
        ckpt = tmp_path / damage / "seed1/checkpoint.pt"
        ckpt.parent.mkdir(parents=True)
        ckpt.write_bytes(damaged)
        log = io.StringIO()
        run_image_job(spec, tmp_path / damage, log=log)

        assert f"checkpoint {ckpt} is unreadable" in log.getvalue(), log.getvalue()
        assert (
            f"moved it to {ckpt}.corrupt" in log.getvalue() and "resumed from" not in log.getvalue()
        )
        assert ckpt.with_name("checkpoint.pt.corrupt").read_bytes() == damaged
        final = torch.load(tmp_path / damage / "seed1/final.pt", weights_only=False)["generator"]
        assert all(torch.equal(clean[k], final[k]) for k in clean), damage  # from scratch


@pytest.mark.slow
def test_killed_image_job_resumes_to_the_same_parameters(data_root, tmp_path):
    # AC-GAN: dropout and label sampling exercise every RNG that a resume must restore.
    spec = job_spec(data_root, "acgan32", LOSSES["hinge"], steps=8)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def cmd(out):
        return [
            sys.executable,
            "-m",
            "gansweep",
            "train-image",
            "--spec",
            str(spec_path),
            "--out-dir",
            str(out),
        ]

    subprocess.run(cmd(tmp_path / "straight"), check=True, env=env, capture_output=True)
    ckpt = tmp_path / "killed/seed1/checkpoint.pt"
    proc = subprocess.Popen(cmd(tmp_path / "killed"), env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (tmp_path / "killed/runs.parquet").exists(), "not killed mid-run"
    resumed = subprocess.run(
        cmd(tmp_path / "killed"), check=True, env=env, capture_output=True, text=True
    )
    assert "resumed from" in resumed.stderr

    a = torch.load(tmp_path / "straight/seed1/final.pt", weights_only=False)
    b = torch.load(tmp_path / "killed/seed1/final.pt", weights_only=False)
    for net in ("generator", "discriminator"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net]), net
    drop = ["wall_time_s"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "straight/log.parquet").drop(columns=drop),
        pd.read_parquet(tmp_path / "killed/log.parquet").drop(columns=drop),
    )


@pytest.mark.slow
def test_image_study_runs_through_snakemake(tmp_path):
    import yaml
    from test_workflow import snakemake

    archive, md5 = make_cifar10_archive(tmp_path / "mirror", n_train_per_batch=8, n_test=4)
    config = {
        "data_dir": str(tmp_path / "data"),
        "downloads": {"cifar10": {"url": archive.as_uri(), "md5": md5}},
        "studies": {
            "img_smoke": {
                "dataset": "cifar10",
                "architecture": "dcgan32",
                "grids": [
                    {"objective": "hinge", "lr": [2e-4]},
                    {"objective": "non_saturating", "architecture": "acgan32", "lr": [2e-4]},
                ],
                "seeds": 2,
                "train": {"steps": 3, "batch_size": 4},
                "log": {"every": 1},
                "execution": {"threads": 1, "device": "cpu"},
                "resources": {"gpu": 0, "runtime": 10, "mem_mb": 1000},
            }
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # The training half of the workflow; smoke/paper_all covers FID and figures.
    targets = [f"results/img_smoke/train_{t}.parquet" for t in ("runs", "log", "grads")]
    out = snakemake(*targets, "--configfile", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    runs = pd.read_parquet(tmp_path / "results/img_smoke/train_runs.parquet")
    assert (
        len(runs) == 4
        and set(runs.status) == {"ok"}
        and set(runs.architecture) == {"dcgan32", "acgan32"}
    )
    log = pd.read_parquet(tmp_path / "results/img_smoke/train_log.parquet")
    assert set(log.step) == {1, 2, 3} and log.groupby(["cell", "seed"]).size().eq(3).all()
    grads = pd.read_parquet(tmp_path / "results/img_smoke/train_grads.parquet")
    assert {"conv1", "conv5"} <= set(grads.layer)
    meta = json.loads((tmp_path / "data/cifar10/prepared/meta.json").read_text())
    assert meta["counts"] == {"train": 40, "test": 4}
    train_log = (tmp_path / "logs/img_smoke/train/dcgan32-hinge-lr0.0002/seed1.log").read_text()
    assert "step 3/3" in train_log


def test_linear_learning_rate_decay_is_a_function_of_the_step(data_root):
    grid = {**LOSSES["hinge"], "lr_decay": "linear"}
    spec = job_spec(data_root, "dcgan32", grid, steps=4)
    trainer = image_training.ImageTrainer(spec, 1, log=open(os.devnull, "w"))
    seen = []
    for _ in range(4):
        trainer.train_step()
        seen.append((trainer.opt_d.param_groups[0]["lr"], trainer.opt_g.param_groups[0]["lr"]))
    assert seen == [(2e-4 * (1 - k / 4), 2e-4 * (1 - k / 4)) for k in range(4)]
    constant = image_training.ImageTrainer(
        job_spec(data_root, "dcgan32", LOSSES["hinge"]), 1, log=open(os.devnull, "w")
    )
    constant.train_step()
    assert constant.opt_d.param_groups[0]["lr"] == 2e-4
