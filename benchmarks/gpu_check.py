"""GPU readiness check: one short script to run first on a new CUDA machine (< 5 min on an H200).

    python benchmarks/gpu_check.py            # from the repository root, venv active
    python benchmarks/gpu_check.py --quick    # seconds: smaller timings (numbers rough)

On a CUDA machine it
  1. runs the tests marked ``cuda`` (``pytest -m cuda``);
  2. trains a few ring jobs (several losses, R1 + R2, WGAN-GP) for 20 steps in float64 on the
     CPU and on CUDA and reports the largest parameter difference;
  3. times the ring trainer at presets/ring_paper.yaml's architecture and ``seeds_per_job``, in
     fp32 and with TF32 matmuls, and projects the training time of presets/ring_paper.yaml and
     presets/ring_losses_paper.yaml on this GPU (training steps only: evaluations, job start-up
     and partial last jobs are not counted);
  4. trains a DCGAN for a few steps on a tiny CIFAR-10-format fixture and computes FID with
     stand-in Inception weights (the value means nothing; finite is the check), without and
     with bf16 autocast (AMP);
and prints one summary table. Without CUDA it says so, skips 1, 2 and the CUDA variants, and
runs a brief CPU timing and the CPU image smoke, so the script itself is tested on any machine
(tests/test_gpu_check.py). Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from gansweep.config import validate_config
from gansweep.plan import ring_jobs
from gansweep.training.ring import RingTrainer

REPO = Path(__file__).resolve().parents[1]
AGREEMENT_TOLERANCE = 1e-9  # float64 after 20 steps: only summation order differs
RING_PRESETS = ("presets/ring_paper.yaml", "presets/ring_losses_paper.yaml")


@dataclass
class Row:
    check: str
    device: str
    status: str  # ok | FAIL | skipped
    result: str
    seconds: float = 0.0


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@contextlib.contextmanager
def tf32(enabled: bool):
    """TF32 for matmuls and cuDNN inside the block, the previous settings after it."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


# ---- 1. the CUDA tests ----------------------------------------------------------------------
def run_cuda_tests() -> Row:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "tests"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    last = (out.stdout.strip().splitlines() or ["(no output)"])[-1]
    # pytest: 0 all passed, 5 nothing collected; anything else is a failure.
    status = "ok" if out.returncode == 0 else "FAIL"
    if out.returncode != 0:
        print(out.stdout[-4000:], out.stderr[-2000:], sep="\n", file=sys.stderr)
    return Row("pytest -m cuda", "cuda", status, last.strip("= "), time.perf_counter() - t0)


# ---- 2. CPU vs CUDA in float64 --------------------------------------------------------------
AGREEMENT_CASES = [
    ({"objective": "saturating", "alpha_d": [0.3, 1.0], "alpha_g": [1.0]}, {}),
    ({"objective": "rpgan"}, {"r1_gamma": 1.0, "r2_gamma": 1.0}),
    ({"objective": "fgan_kl"}, {}),
    ({"objective": "wgan_gp"}, {}),
]


def tiny_ring_spec(grid: dict, train: dict, device: str, steps: int = 20) -> dict:
    """One job of a small float64 ring study (1,000 points, batch 128: partial batches and
    epoch boundaries within 20 steps)."""
    study = {
        "dataset": "ring",
        "grids": [grid],
        "seeds": 2,
        "data": {"n_train": 1000, "n_test": 500},
        "model": {"g_hidden": 2, "g_width": 16, "d_hidden": 2, "d_width": 8},
        "train": {"steps": steps, **train},
        "eval": {"every": None},
        "execution": {"dtype": "float64", "device": device},
    }
    config = validate_config({"studies": {"agree": study}})
    (spec,) = ring_jobs("agree", config["studies"]["agree"]).values()
    return spec


def max_param_difference(grid: dict, train: dict, device_a: str, device_b: str) -> float:
    """Train the same tiny job on two devices; the largest |difference| of any parameter."""
    params = []
    for device in (device_a, device_b):
        trainer = RingTrainer(tiny_ring_spec(grid, train, device))
        while trainer.step < trainer.spec["steps"]:
            trainer.train_step()
        params.append(
            [p.detach().cpu() for p in (*trainer.G.parameters(), *trainer.D.parameters())]
        )
    return max(float((a - b).abs().max()) for a, b in zip(*params))


def check_agreement(device: str) -> list[Row]:
    rows = []
    for grid, train in AGREEMENT_CASES:
        t0 = time.perf_counter()
        diff = max_param_difference(grid, train, "cpu", device)
        name = grid["objective"] + (
            "+" + "+".join(k.split("_")[0].upper() for k in train) if train else ""
        )
        status = "ok" if diff < AGREEMENT_TOLERANCE else "FAIL"
        rows.append(
            Row(
                f"cpu vs {device} float64, 20 steps: {name}",
                device,
                status,
                f"max |Δparam| {diff:.1e} (tolerance {AGREEMENT_TOLERANCE:.0e})",
                time.perf_counter() - t0,
            )
        )
    return rows


# ---- 3. ring throughput and the preset's projected time ---------------------------------------
def load_preset(path: str) -> dict:
    with open(REPO / path) as fh:
        return validate_config(yaml.safe_load(fh))


def preset_jobs(path: str) -> list[dict]:
    config = load_preset(path)
    return [
        spec
        for name, study in config["studies"].items()
        for spec in ring_jobs(name, study).values()
    ]


def seed_steps_per_second(spec: dict, min_seconds: float, warmup: int = 3) -> tuple[float, int]:
    """(seed-steps/s, steps timed) of RingTrainer.train_step on ``spec``, after a warm-up."""
    trainer = RingTrainer(spec)
    device = str(trainer.device)
    for _ in range(warmup):
        trainer.train_step()
    _sync(device)
    steps, t0 = 0, time.perf_counter()
    while True:
        trainer.train_step()
        steps += 1
        if steps % 5 == 0 or device == "cpu":
            _sync(device)
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                return steps * len(spec["runs"]) / elapsed, steps


def projected_hours(path: str, rate: float) -> tuple[float, int, int]:
    """(hours, jobs, run-steps) to train every job of a preset at ``rate`` seed-steps/s."""
    jobs = preset_jobs(path)
    run_steps = sum(len(j["runs"]) * j["steps"] for j in jobs)
    return run_steps / rate / 3600, len(jobs), run_steps


def time_ring(device: str, use_tf32: bool, seeds: int | None, min_seconds: float) -> list[Row]:
    """Time the first job of presets/ring_paper.yaml (its networks and seeds_per_job, or
    ``seeds`` runs) in float32 on ``device``, and project both paper-length ring presets."""
    spec = copy.deepcopy(preset_jobs(RING_PRESETS[0])[0])
    if seeds is not None:
        spec["runs"] = spec["runs"][:seeds]
    spec["execution"] = {**spec["execution"], "device": device, "dtype": "float32"}
    label = "tf32" if use_tf32 else "fp32"
    t0 = time.perf_counter()
    with tf32(use_tf32):
        rate, steps = seed_steps_per_second(spec, min_seconds)
    m = spec["model"]
    rows = [
        Row(
            f"ring trainer {label}, G {m['g_hidden']}x{m['g_width']}, D {m['d_hidden']}x{m['d_width']}, "
            f"{len(spec['runs'])} runs/job",
            device,
            "ok",
            f"{rate:,.0f} seed-steps/s ({steps} steps timed)",
            time.perf_counter() - t0,
        )
    ]
    for path in RING_PRESETS:
        hours, n_jobs, run_steps = projected_hours(path, rate)
        when = f"{hours:,.1f} h" if hours < 48 else f"{hours / 24:,.1f} days"
        rows.append(
            Row(
                f"  projected {path} ({label})",
                device,
                "ok",
                f"{when} on one device ({n_jobs} jobs, {run_steps:.3g} seed-steps)",
            )
        )
    return rows


# ---- 4. image training + FID smoke ------------------------------------------------------------
def prepare_fixture(root: Path, n_per_batch: int) -> None:
    """A tiny CIFAR-10-format archive, downloaded and prepared as the pipeline does."""
    from gansweep.data import download, prepare
    from gansweep.testing.fixtures import make_cifar10_archive

    archive, md5 = make_cifar10_archive(root / "src", n_train_per_batch=n_per_batch, n_test=4)
    with contextlib.redirect_stderr(open(os.devnull, "w")):
        download("cifar10", root / "data", url=archive.as_uri(), md5=md5)
        prepare("cifar10", root / "data", workers=0)


def image_smoke(
    root: Path, device: str, amp: bool, steps: int, batch: int, n_fid: int, distance: bool = True
) -> Row:
    """Train DCGAN-32 for ``steps`` steps (RpGAN + R1, to cover the new paths too), then FID of
    ``n_fid`` generated images against the fixture's train split with stand-in weights.
    ``distance=False`` stops after the features: SciPy's 2048-d sqrtm alone takes about a
    minute on one CPU core, and it runs on the CPU whatever the device."""
    from gansweep.metrics import fid
    from gansweep.plan import image_jobs
    from gansweep.training.image import ImageTrainer

    t0 = time.perf_counter()
    study = {
        "dataset": "cifar10",
        "architecture": "dcgan32",
        "grids": [{"objective": "rpgan", "lr": [2e-4]}],
        "seeds": [1],
        "train": {"steps": steps, "batch_size": batch, "r1_gamma": 1.0},
        "log": {"every": steps},
        "execution": {"threads": 1, "device": device, "amp": amp, "tf32": False},
    }
    config = validate_config({"studies": {"smoke": study}})
    (spec,) = image_jobs("smoke", config["studies"]["smoke"], str(root / "data")).values()
    devnull = open(os.devnull, "w")
    trainer = ImageTrainer(spec, 1, log=devnull)
    with contextlib.redirect_stderr(devnull):
        trainer.fit(root / f"run-{device}-{amp}")
    if trainer.status != "ok":
        return Row(
            f"image smoke, amp {'on' if amp else 'off'}",
            device,
            "FAIL",
            trainer.reason,
            time.perf_counter() - t0,
        )

    weights = root / "weights" / fid.FEATURE_EXTRACTORS["fid"].file_name
    if not weights.exists():
        weights.parent.mkdir(parents=True, exist_ok=True)
        fid.write_standin_weights("fid", weights)
    extractor = fid.load_extractor("fid", weights, device, fid.sha256_of(weights)[:16])
    with contextlib.redirect_stderr(devnull):
        mu_r, sigma_r, _ = fid.reference_stats(
            "fid",
            "cifar10",
            root / "data",
            "train",
            None,
            device,
            batch_size=64,
            extractor=extractor,
        )[:3]
        gen = torch.Generator().manual_seed(0)
        trainer.G.eval()

        @torch.no_grad()
        def sample(k: int) -> torch.Tensor:
            with trainer._autocast():
                return trainer.G(
                    torch.randn(k, trainer.z_dim, generator=gen).to(trainer.device)
                ).float()

        mu_f, sigma_f, _ = fid.generated_stats("fid", sample, n_fid, 64, extractor)
    d_loss = trainer.log_rows[-1]["d_loss"]
    if distance:
        value = fid.frechet_distance(mu_f, sigma_f, mu_r, sigma_r)
        ok, result = math.isfinite(value), f"final d_loss {d_loss:.3g}, FID(stand-in) {value:.4g}"
    else:
        ok = all(map(math.isfinite, (*mu_f, *mu_r, *sigma_f.diagonal(), *sigma_r.diagonal())))
        result = f"final d_loss {d_loss:.3g}, {mu_f.shape[0]}-d features of {n_fid} fakes finite (distance skipped)"
    return Row(
        f"image smoke, amp {'on (bf16)' if amp else 'off'}: DCGAN-32 {steps} steps + FID",
        device,
        "ok" if ok and math.isfinite(d_loss) else "FAIL",
        result,
        time.perf_counter() - t0,
    )


# ---- the table --------------------------------------------------------------------------------
def table(rows: list[Row]) -> str:
    lines = ["| check | device | status | result | s |", "|---|---|---|---|---:|"]
    lines += [
        f"| {r.check} | {r.device} | {r.status} | {r.result} | {r.seconds:.1f} |" for r in rows
    ]
    return "\n".join(lines)


def environment_text() -> str:
    text = f"torch {torch.__version__}, python {platform.python_version()}, {platform.node()}"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        text += (
            f"\nCUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s); device 0: {props.name}, "
            f"{props.total_memory / 2**30:.0f} GiB, capability {props.major}.{props.minor}"
        )
    return text


def run_checks(quick: bool, skip_tests: bool = False, cuda: bool | None = None) -> list[Row]:
    cuda = torch.cuda.is_available() if cuda is None else cuda
    rows: list[Row] = []
    if not cuda:
        print(
            "No CUDA device: the CUDA checks are skipped; brief CPU variants run instead.",
            flush=True,
        )
        for name in (
            "pytest -m cuda",
            "cpu vs cuda float64 agreement",
            "ring trainer on CUDA (fp32, tf32)",
            "image smoke on CUDA, amp off / on",
        ):
            rows.append(Row(name, "-", "skipped", "no CUDA device"))

    if cuda and not skip_tests:
        print("[1/4] pytest -m cuda ...", flush=True)
        rows.append(run_cuda_tests())
    if cuda:
        print("[2/4] CPU vs CUDA, float64 ...", flush=True)
        rows += check_agreement("cuda")

    print("[3/4] ring trainer throughput ...", flush=True)
    if cuda:
        for use_tf32 in (False, True):
            rows += time_ring(
                "cuda", use_tf32, seeds=64 if quick else None, min_seconds=1.0 if quick else 5.0
            )
    else:  # a CPU cannot take 600 paper-sized runs at once; time a few, briefly
        rows += time_ring("cpu", False, seeds=2 if quick else 32, min_seconds=0.3 if quick else 3.0)

    print("[4/4] image training + FID smoke ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        root = Path(tmp)
        prepare_fixture(root, n_per_batch=32 if cuda else 2)
        if cuda:
            for amp in (False, True):
                rows.append(image_smoke(root, "cuda", amp, steps=20, batch=32, n_fid=256))
        else:
            rows.append(image_smoke(root, "cpu", False, steps=2, batch=4, n_fid=4, distance=False))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings (rough numbers)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run pytest -m cuda")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    print(environment_text(), flush=True)
    rows = run_checks(args.quick, args.skip_tests)
    print()
    print(table(rows))
    failed = [r for r in rows if r.status == "FAIL"]
    print(f"\n{len(failed)} failed check(s); total {time.perf_counter() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
