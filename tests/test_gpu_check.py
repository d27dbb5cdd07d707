"""benchmarks/gpu_check.py on this machine (CPU: it says so and skips the CUDA parts), its
CUDA code paths driven with the CPU standing in, and the tests marked ``cuda``."""

import importlib.util
import sys

import pytest
import torch
from conftest import REPO

from gansweep.losses import LOSSES
from gansweep.penalties import zero_centred_penalties

no_cuda_skip = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks/gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_without_cuda_it_says_so_skips_the_cuda_parts_and_runs_the_cpu_ones(
    gpu_check, capsys, monkeypatch, restore_threads
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "No CUDA device: the CUDA checks are skipped" in out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| check | device | status")
    skipped = [line for line in table if "| skipped |" in line]
    assert len(skipped) == 4 and all("no CUDA device" in line for line in skipped)
    assert any(
        "ring trainer fp32, G 4x400, D 4x200" in line and "| cpu | ok |" in line for line in table
    )
    assert any("projected presets/ring_paper.yaml" in line and "26 jobs" in line for line in table)
    assert any(
        "projected presets/ring_losses_paper.yaml" in line and "14 jobs" in line for line in table
    )
    assert any("image smoke, amp off" in line and "| cpu | ok |" in line for line in table)
    assert "0 failed check(s)" in out


def test_the_agreement_check_compares_parameters_of_two_devices(gpu_check):
    rows = gpu_check.check_agreement("cpu")  # CPU vs CPU: exactly equal
    assert len(rows) == len(gpu_check.AGREEMENT_CASES)
    assert all(r.status == "ok" and "max |Δparam| 0.0e+00" in r.result for r in rows)
    # It does see a difference: a run with another learning rate is not the same run.
    grid, train = gpu_check.AGREEMENT_CASES[0]
    a = gpu_check.tiny_ring_spec(grid, train, "cpu", steps=2)
    assert a["execution"]["dtype"] == "float64" and len(a["runs"]) == 4


def test_projection_counts_every_run_step_of_the_preset(gpu_check):
    hours, jobs, run_steps = gpu_check.projected_hours("presets/ring_paper.yaml", rate=1000.0)
    assert (
        jobs == 26 and run_steps == 15_200 * 156_400
    )  # README: 15,200 runs, 400 epochs of 391 steps
    assert hours == pytest.approx(run_steps / 1000.0 / 3600)


# ---- tests that need CUDA (pytest -m cuda; skipped here) ----------------------------------------
@pytest.mark.cuda
@no_cuda_skip
@pytest.mark.parametrize("case", range(4))
def test_ring_training_on_cuda_matches_cpu_in_float64(gpu_check, case):
    grid, train = gpu_check.AGREEMENT_CASES[case]
    assert (
        gpu_check.max_param_difference(grid, train, "cpu", "cuda") < gpu_check.AGREEMENT_TOLERANCE
    )


@pytest.mark.cuda
@no_cuda_skip
@pytest.mark.parametrize("name", ["rpgan", "ragan", "fgan_kl", "fgan_js", "saturating"])
def test_losses_and_penalties_on_cuda_equal_cpu(name):
    obj = LOSSES[name]
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(2, 3, 64, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    points = torch.randn(2, 3, 64, 2, generator=gen, dtype=torch.float64)
    results = []
    for device in ("cpu", "cuda"):
        r, f, wd, p = (t.to(device) for t in (real, fake, w, points))
        g_args = (r,) if obj.relativistic else ()
        penalty = zero_centred_penalties(
            lambda x: torch.tanh((x * wd[:, None]).sum(-1)), p[0], p[1], 1.0, 2.0, 1
        )
        results.append(
            [t.cpu() for t in (obj.d_loss(r, f, 1.0), obj.g_loss(f, 1.0, *g_args), penalty)]
        )
    for cpu, cuda in zip(*results):
        torch.testing.assert_close(cuda, cpu)


@pytest.mark.cuda
@no_cuda_skip
@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp_bf16"])
def test_image_training_and_fid_features_on_cuda(gpu_check, tmp_path, amp):
    gpu_check.prepare_fixture(tmp_path, n_per_batch=8)
    row = gpu_check.image_smoke(tmp_path, "cuda", amp, steps=3, batch=8, n_fid=16, distance=False)
    assert row.status == "ok", row
