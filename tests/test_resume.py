"""A training job killed with SIGKILL resumes from its checkpoint to the same final metrics."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import single_job, tiny_study

METADATA = ["wall_time_s", "host", "slurm_job_id", "cuda_visible_devices"]


def train_cmd(spec_path, out_dir, name):
    return [
        sys.executable,
        "-m",
        "gansweep",
        "train-ring",
        "--spec",
        str(spec_path),
        "--runs",
        str(out_dir / f"{name}.parquet"),
        "--samples",
        str(out_dir / f"{name}-samples.parquet"),
        "--checkpoint",
        str(out_dir / f"{name}.pt"),
    ]


@pytest.mark.slow
def test_killed_job_resumes_to_the_uninterrupted_result(tmp_path):
    spec = single_job(
        tiny_study(
            seeds=4,
            data={"n_train": 3000, "n_test": 2000},
            model={"g_width": 256, "d_width": 128},
            train={"steps": 300},
            eval={"every": 50},
            execution={"dtype": "float32", "threads": 1, "checkpoint_every": 20, "log_every": 50},
        )
    )
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    subprocess.run(
        train_cmd(spec_path, tmp_path, "straight"), check=True, env=env, capture_output=True
    )

    ckpt = tmp_path / "killed.pt"
    proc = subprocess.Popen(
        train_cmd(spec_path, tmp_path, "killed"), env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)  # let it train past the checkpoint, so that the resumed run redoes steps
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert ckpt.exists() and not (tmp_path / "killed.parquet").exists(), (
        "the job was not killed mid-run"
    )

    resumed = subprocess.run(
        train_cmd(spec_path, tmp_path, "killed"),
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "resumed from" in resumed.stderr
    assert not ckpt.exists()  # dropped once the output is written

    a = pd.read_parquet(tmp_path / "straight.parquet").drop(columns=METADATA)
    b = pd.read_parquet(tmp_path / "killed.parquet").drop(columns=METADATA)
    assert len(a) == 4 * 4 * 6  # 4 cells × 4 seeds × 6 checkpoints
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "straight-samples.parquet"),
        pd.read_parquet(tmp_path / "killed-samples.parquet"),
    )


def test_a_checkpoint_of_another_spec_is_ignored(tmp_path):
    from gansweep.io import save_torch
    from gansweep.training.ring import RingTrainer

    spec = single_job(tiny_study(train={"steps": 5}))
    other = single_job(tiny_study(train={"steps": 6}))
    trainer = RingTrainer(other)
    trainer.train_step()
    save_torch(trainer.state_dict(), tmp_path / "c.pt")
    fresh = RingTrainer(spec)
    assert not fresh.try_resume(tmp_path / "c.pt", log=open(os.devnull, "w"))
    assert fresh.step == 0


def checkpoint_bytes(spec, steps: int) -> bytes:
    """A real checkpoint of ``spec`` after ``steps`` steps, as the trainer writes it."""
    import io

    import torch

    from gansweep.training.ring import RingTrainer

    trainer = RingTrainer(spec)
    for _ in range(steps):
        trainer.train_step()
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("damage", ["random_bytes", "truncated"])
def test_a_corrupt_checkpoint_is_moved_aside_and_the_job_restarts(tmp_path, damage):
    import io

    import numpy as np

    from gansweep.training.ring import run_job

    spec = single_job(tiny_study(seeds=2, train={"steps": 12}))
    run_job(
        spec,
        tmp_path / "clean.parquet",
        tmp_path / "clean-s.parquet",
        tmp_path / "clean.pt",
        log=io.StringIO(),
    )

    ckpt = tmp_path / "job.pt"
    good = checkpoint_bytes(spec, 5)
    damaged = (
        np.random.default_rng(0).bytes(len(good))
        if damage == "random_bytes"
        else good[: len(good) // 2]
    )
    ckpt.write_bytes(damaged)
    log = io.StringIO()
    run_job(spec, tmp_path / "job.parquet", tmp_path / "job-s.parquet", ckpt, log=log)

    text = log.getvalue()
    assert f"checkpoint {ckpt} is unreadable" in text and f"moved it to {ckpt}.corrupt" in text, (
        text
    )
    assert "restarting this job from step 0" in text and "resumed from" not in text
    assert (tmp_path / "job.pt.corrupt").read_bytes() == damaged  # kept for inspection
    assert not ckpt.exists()
    a = pd.read_parquet(tmp_path / "clean.parquet").drop(columns=METADATA)
    b = pd.read_parquet(tmp_path / "job.parquet").drop(columns=METADATA)
    pd.testing.assert_frame_equal(a, b)  # trained from scratch: the uninterrupted result

    # A second bad checkpoint does not overwrite the first one kept for inspection.
    ckpt.write_bytes(b"garbage")
    run_job(spec, tmp_path / "again.parquet", tmp_path / "again-s.parquet", ckpt, log=io.StringIO())
    assert (tmp_path / "job.pt.corrupt.1").read_bytes() == b"garbage"
