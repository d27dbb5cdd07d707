"""One trainer per job: a second one stops at once and names the PID that holds the job."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import single_job, tiny_study

from gansweep.joblock import JobLockedError, job_lock
from gansweep.training.ring import run_job

HOLD = """
import sys, time
from pathlib import Path
from gansweep.joblock import job_lock
with job_lock(Path(sys.argv[1]), "held"):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / 'job.pt.lock'``."""
    lock = tmp_path / "job.pt.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_trainer_stops_naming_the_pid_that_holds_the_job(tmp_path, holder):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(single_job(tiny_study(train={"steps": 5}))))
    cmd = [
        sys.executable,
        "-m",
        "gansweep",
        "train-ring",
        "--spec",
        str(spec_path),
        "--runs",
        str(tmp_path / "runs.parquet"),
        "--samples",
        str(tmp_path / "samples.parquet"),
        "--checkpoint",
        str(tmp_path / "job.pt"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.monotonic()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode != 0
    assert f"PID {holder.pid} on host" in second.stderr, second.stderr
    assert "already being trained" in second.stderr and "kill <pid>" in second.stderr
    assert "Traceback" not in second.stderr  # a message, not a crash
    assert not (tmp_path / "runs.parquet").exists()
    assert holder.poll() is None  # the first trainer is untouched

    assert time.monotonic() - t0 < 60  # it stopped at once, without training

    # Once the holder is gone, even by SIGKILL (its lock file stays), the job runs.
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "job.pt.lock").exists()
    run_job(
        json.loads(spec_path.read_text()),
        tmp_path / "runs.parquet",
        tmp_path / "samples.parquet",
        tmp_path / "job.pt",
        log=io.StringIO(),
    )
    assert (tmp_path / "runs.parquet").exists() and not (tmp_path / "job.pt.lock").exists()


def test_the_lock_is_exclusive_within_one_host_and_released_on_exit(tmp_path, holder):
    with pytest.raises(JobLockedError, match=f"PID {holder.pid} on host"):
        with job_lock(tmp_path / "job.pt.lock", "study/job"):
            pass
    holder.kill()
    holder.wait()
    with job_lock(tmp_path / "job.pt.lock", "study/job"):
        assert f"PID {os.getpid()} " in (tmp_path / "job.pt.lock").read_text()
        with pytest.raises(JobLockedError):  # a second open file description is refused too
            with job_lock(tmp_path / "job.pt.lock", "study/job"):
                pass
    assert not (tmp_path / "job.pt.lock").exists()


def test_an_image_job_is_locked_too(tmp_path, monkeypatch):
    from gansweep.training import image

    (tmp_path / "out").mkdir()
    ran = []
    monkeypatch.setattr(image, "_run_image_job", lambda spec, out_dir, log: ran.append(out_dir))
    spec = {"study": "s", "cell": "c"}
    with job_lock(tmp_path / "out" / "train.lock", "s/c/out"):
        with pytest.raises(JobLockedError, match=f"PID {os.getpid()} "):
            image.run_image_job(spec, tmp_path / "out")
    assert ran == []
    image.run_image_job(spec, tmp_path / "out")
    assert ran == [tmp_path / "out"]
