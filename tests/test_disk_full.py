"""A full disk: every write (checkpoint, job table, samples, figure) fails with a message that
says no space is left, names the path and the bytes it needed, leaves no temporary file, and the
rerun after space is freed completes."""

import builtins
import errno
import io
import os
import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from conftest import single_job, tiny_study
from test_tables import fake_runs
from test_workflow import SMOKE, snakemake

import gansweep.io as gio
from gansweep.cli import main
from gansweep.errors import DiskFullError, is_disk_full
from gansweep.figures.common import save_figure
from gansweep.io import save_torch, write_parquet
from gansweep.training.ring import run_job

NO_SPACE = "no space left on the device"


def disk_full_after(monkeypatch, n_bytes: int = 100, names: str = ""):
    """From now on, a write by gansweep.io to a file whose name contains ``names`` stores its
    first ``n_bytes`` and then fails as a full disk does (OSError ENOSPC)."""
    real_open = builtins.open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:n_bytes])
            self.f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def open_(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullFile(f) if "w" in mode and names in Path(path).name else f

    monkeypatch.setattr(gio, "open", open_, raising=False)


def assert_disk_full(err: DiskFullError, path: Path, needed: int | None) -> None:
    text = str(err)
    assert NO_SPACE in text and str(path) in text, text
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    if needed is not None:
        assert err.needed == needed and f"needed {needed:,} bytes" in text, text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name)


def test_a_checkpoint_on_a_full_disk_names_path_and_bytes_and_keeps_the_old_one(
    tmp_path, monkeypatch
):
    path = tmp_path / "checkpoints/job.pt"
    save_torch({"step": 1}, path)
    before = path.read_bytes()
    state = {"step": 2, "weights": torch.arange(5000.0)}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    disk_full_after(monkeypatch)
    with pytest.raises(DiskFullError) as err:
        save_torch(state, path)
    assert_disk_full(err.value, path, len(buffer.getvalue()))
    assert path.read_bytes() == before and leftovers(path.parent) == []


def test_a_table_on_a_full_disk_names_path_and_bytes(tmp_path, monkeypatch):
    table = fake_runs()
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    disk_full_after(monkeypatch)
    path = tmp_path / "jobs/job.parquet"
    with pytest.raises(DiskFullError) as err:
        write_parquet(table, path)
    assert_disk_full(err.value, path, len(buffer.getvalue()))
    assert not path.exists() and leftovers(path.parent) == []


def test_a_figure_on_a_full_disk_names_the_file(tmp_path, monkeypatch):
    stem = tmp_path / "figures/rates"
    disk_full_after(monkeypatch, names="rates.pdf")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with pytest.raises(DiskFullError) as err:
        save_figure(fig, stem)
    assert_disk_full(err.value, stem.with_suffix(".pdf"), None)
    assert err.value.needed > 1000  # the PDF's size, known before writing
    assert not stem.with_suffix(".pdf").exists() and leftovers(stem.parent) == []
    monkeypatch.undo()
    fig, ax = plt.subplots()
    save_figure(fig, stem)
    assert stem.with_suffix(".pdf").stat().st_size > 1000


@pytest.mark.parametrize("full", ["checkpoint", "samples"])
def test_training_on_a_full_disk_fails_clearly_and_the_rerun_completes(full, tmp_path, monkeypatch):
    spec = single_job(tiny_study(execution={"checkpoint_every": 5}))
    paths = {
        "runs": tmp_path / "jobs/t.parquet",
        "samples": tmp_path / "samples/scatter.parquet",
        "checkpoint": tmp_path / "checkpoints/t.pt",
    }
    disk_full_after(monkeypatch, names=paths[full].name)  # the runs table still fits
    log = io.StringIO()
    with pytest.raises(DiskFullError) as err:
        run_job(spec, paths["runs"], paths["samples"], paths["checkpoint"], log=log)
    assert_disk_full(err.value, paths[full], None)
    assert err.value.needed > 0
    assert not paths[full].exists() and leftovers(paths[full].parent) == []
    monkeypatch.undo()  # space freed
    run_job(spec, paths["runs"], paths["samples"], paths["checkpoint"], log=log)
    assert len(pd.read_parquet(paths["runs"])) and len(pd.read_parquet(paths["samples"]))
    assert not paths["checkpoint"].exists()
    if full == "samples":  # it resumed from the last checkpoint instead of starting over
        assert "resumed from" in log.getvalue()


def test_the_command_prints_one_line_with_exit_status_1(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "jobs/a.parquet"
    runs.parent.mkdir()
    fake_runs().to_parquet(runs)
    disk_full_after(monkeypatch, names="summary")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "aggregate",
                f"--runs={out}/runs.parquet",
                f"--summary={out}/summary.parquet",
                str(runs),
            ]
        )
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"gansweep aggregate: error: {out}/summary.parquet: {NO_SPACE} (needed ")
    assert leftovers(out) == []


def test_full_disk_errors_are_recognised_through_causes():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError("Couldn't write: No space left on device"))  # pyarrow's text
    wrapped = RuntimeError("unexpected pos 128 vs 0")
    wrapped.__cause__ = OSError(errno.ENOSPC, "x")
    assert is_disk_full(wrapped)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(RuntimeError("unexpected pos 128 vs 0"))


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of ``size`` mounted at a folder (root only); unmounted afterwards."""
    mounted = []

    def mount(folder: Path, size: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(
                f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}"
            )
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_pipeline_on_a_full_disk_says_so_and_completes_after_space_is_freed(tmp_path, small_disk):
    """The smoke study with its checkpoints on a 4 kB file system: torch.save used to fail
    there with "unexpected pos"; now the job's log says the disk is full, names the checkpoint
    and its size, nothing half-written stays, and once there is space the same command ends."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    checkpoints = small_disk(tmp_path / "results/ring_smoke/checkpoints", "4k")
    out = snakemake("--configfile", str(SMOKE), cwd=tmp_path)
    assert out.returncode != 0
    logs = [p.read_text() for p in (tmp_path / "logs/ring_smoke/train").glob("*.log")]
    full = [log for log in logs if NO_SPACE in log]
    assert full, logs
    line = next(line for line in full[0].splitlines() if NO_SPACE in line)
    assert line.startswith("gansweep train-ring: error: results/ring_smoke/checkpoints/")
    assert ".pt: no space left on the device (needed " in line and "Traceback" not in full[0]
    assert "unexpected pos" not in "".join(logs)
    assert os.listdir(checkpoints) == []  # no partial or temporary file
    subprocess.run(["mount", "-o", "remount,size=64m", str(checkpoints)], check=True)
    again = snakemake("--configfile", str(SMOKE), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    runs = pd.read_parquet(tmp_path / "results/ring_smoke/runs.parquet")
    assert len(runs) == 18 and os.listdir(checkpoints) == []
