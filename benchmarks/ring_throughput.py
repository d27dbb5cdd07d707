"""Throughput of one 2D-ring GAN training step: the authors' loop vs ``RingTrainer``.

Run from the repository root (a few minutes at most; ``--quick`` is a smoke run)::

    .venv/bin/python benchmarks/ring_throughput.py                     # threads 1 and 2, S = 32
    .venv/bin/python benchmarks/ring_throughput.py --seeds 8 32 64 --threads 2
    .venv/bin/python benchmarks/ring_throughput.py --hidden 2          # the perf notes' smaller net
    .venv/bin/python benchmarks/ring_throughput.py --check-flops       # FLOP self-check only
    .venv/bin/python benchmarks/ring_throughput.py --quick             # smoke run, numbers meaningless
    .venv/bin/python benchmarks/ring_throughput.py --flush-denormal    # subnormal floats -> 0

What is timed, side by side in one process (the setup of the perf notes, perf_baseline.md):

* ``reference``: the authors' style of loop for ONE seed. Real points and latents are Python
  lists of 2-element tensors behind ``DataLoader(batch_size=128, shuffle=True)``, iterated as
  ``zip(noise_loader, real_loader)``; ``nn.Sequential`` G and D; default ``torch.optim.Adam``;
  per batch fake = G(z), a D step on real and fake.detach(), then a G step with plain
  ``backward()`` through the updated D on the same fake batch (saturating α-loss, α = 1).
* ``ours@S``: ``RingTrainer(spec).train_step()`` training S seeds at once.
* ``ours@S, every layer one baddbmm``: the same, with the 1- and 2-column output layers as
  plain batched GEMMs instead of ``stacked_linear``'s weighted sum / transposed product.
* ``bound``: only the batched products of one ``ours@S`` step (same shapes, layouts and order),
  nothing else. Its % of peak is a ceiling for ours: the GEMMs themselves, at these sizes
  (K = 128 for weight grads, widths 200 and 400), do not run at the peak of big square ones.
* ``fp32 peak``: square fp32 ``torch.mm`` (several n, the best median) at the same thread count.

For every thread count the variants run round-robin (the order rotates each repeat), each repeat
trains for at least ``--min-seconds`` after a warm-up, and the table shows medians. Read the
*ratios* within one thread count; absolute rates on a shared machine wander by about ±15 %. Other
busy processes hurt 2-thread runs most: when a core is taken, OpenMP steps can slow down 10-100x.
The script prints a warning when the repeats of a variant differ by more than 1.3x; rerun on an
idle machine before quoting such numbers.

Columns: seed-steps/s = (optimiser steps × seeds trained) per second (a seed-step is one
minibatch of 128 for one seed: G forward, D update, G update); range = min–max over repeats;
× reference = ratio of medians; GFLOP/s = minimal FLOP per seed-step × seed-steps/s; % peak =
that over the measured fp32 ``torch.mm`` peak. The minimal FLOP count is the matmul work the
algorithm needs (FLOP = 2·MAC, biases and activations ignored): G forward, D forward on real and
fake, D backward (weight grads, input grads of all layers but the first), D forward on the fake
batch in the G step, D backward to its input (input grads only), G backward (weight grads, input
grads of all layers but the first). The reference also computes D's unused weight grads in its G
step; that extra work is not credited. steps = the latest training step (of one run) that was
timed.

Subnormal floats: after some hundreds of steps (about 600 for the paper net, saturating loss),
many of G's ReLU units are dead, their weights get exactly zero gradients, and Adam's first
moments of those weights decay (x0.9 per step) into the subnormal range (< 1.2e-38). The CPU needs
microcode assists for subnormal operands: Adam gets up to ~8x slower and a whole step up to ~2x.
The reference would reach that phase within the default run (~180 steps per repeat) and ours@32
(~10 steps per repeat) would not. So by default a training variant that has passed 200 steps
restarts as a fresh run, untimed, before its next repeat (``--fresh-after``), and the table
compares early-training speed. To time the later phase, run e.g. ``--threads 1 --seeds 8
--pretrain-steps 900`` (about 2 minutes; no restarts then). ``--flush-denormal`` sets FTZ/DAZ for
the whole process (it must happen before the first parallel op, or the OpenMP worker threads keep
the old mode) and removes the slowdown. It changes only values below 1.2e-38, but it is not what
the trainer does by default.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest.mock import patch

import torch
from torch import nn
from torch.utils.data import DataLoader

from gansweep.config import validate_config
from gansweep.data import make_toy_data
from gansweep.losses import LOSSES
from gansweep.models import mlp
from gansweep.models.mlp import THIN_OUTPUT, mlp_sizes
from gansweep.plan import ring_jobs
from gansweep.training.ring import RingTrainer

BATCH = 128
N_TRAIN = 50_000
LATENT_DIM = 2
G_WIDTH, D_WIDTH = 400, 200
LR, BETAS = 1e-4, (0.9, 0.999)
OBJECTIVE = "saturating"  # the ring default; α = 1 makes it the minimax BCE GAN
PERF_DOC_MFLOP = 206.848  # perf_baseline.md §2: G 2-400-400-2, D 2-200-200-1, batch 128


# ---- FLOP accounting ------------------------------------------------------------------------
def g_sizes(hidden: int) -> list[int]:
    return mlp_sizes(LATENT_DIM, hidden, G_WIDTH, 2)


def d_sizes(hidden: int) -> list[int]:
    return mlp_sizes(2, hidden, D_WIDTH, 1)


def layer_macs(sizes: list[int]) -> list[int]:
    """Multiply-accumulates per sample of each linear layer of an MLP."""
    return [fan_in * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]


def mac_breakdown(g: list[int], d: list[int]) -> list[tuple[str, int]]:
    """Minimal MACs per sample of one training step, part by part (see the module docstring)."""
    gm, dm = layer_macs(g), layer_macs(d)
    g_fwd, d_fwd = sum(gm), sum(dm)
    return [
        ("G forward", g_fwd),
        ("D forward, real + fake (D step)", 2 * d_fwd),
        (
            "D backward, real + fake (weight grads + input grads of layers 2..L)",
            2 * (d_fwd + d_fwd - dm[0]),
        ),
        ("D forward on fake (G step)", d_fwd),
        ("D backward to the fake input, input grads only (G step)", d_fwd),
        ("G backward (weight grads + input grads of layers 2..L)", g_fwd + g_fwd - gm[0]),
    ]


def minimal_flop_per_seed_step(hidden: int, batch: int = BATCH) -> int:
    return 2 * batch * sum(macs for _, macs in mac_breakdown(g_sizes(hidden), d_sizes(hidden)))


def check_flops() -> None:
    """The count must reproduce perf_baseline.md §2 for its 2-hidden-layer net."""
    mflop = minimal_flop_per_seed_step(hidden=2) / 1e6
    assert abs(mflop - PERF_DOC_MFLOP) < 1e-9, f"FLOP count {mflop} != {PERF_DOC_MFLOP} MFLOP"


def flop_table(hidden: int) -> str:
    parts = mac_breakdown(g_sizes(hidden), d_sizes(hidden))
    total = sum(m for _, m in parts)
    lines = [
        f"Minimal FLOP per seed-step, G {'-'.join(map(str, g_sizes(hidden)))}, "
        f"D {'-'.join(map(str, d_sizes(hidden)))}, batch {BATCH}:",
        "",
        "| part | MAC/sample |",
        "|---|---:|",
        *(f"| {name} | {macs:,} |" for name, macs in parts),
        f"| **total** | **{total:,} -> {2 * BATCH * total / 1e6:.1f} MFLOP per seed-step** |",
    ]
    return "\n".join(lines)


# ---- the variants ---------------------------------------------------------------------------
def sequential_mlp(sizes: list[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class ReferenceLoop:
    """One seed trained the way the authors' script does it (the reference of the table)."""

    work = 1  # seed-steps per step()

    def __init__(self, hidden: int, seed: int = 1):
        self.steps = 0
        data = make_toy_data("ring", N_TRAIN, 1, data_seed=1, latent_dim=LATENT_DIM)
        torch.manual_seed(seed)
        real = list(data.train_real.float())  # Python lists of 2-element tensors
        noise = list(data.train_noise.float())
        self.real_loader = DataLoader(real, batch_size=BATCH, shuffle=True)
        self.noise_loader = DataLoader(noise, batch_size=BATCH, shuffle=True)
        self.batches = self._endless_batches()
        self.G = sequential_mlp(g_sizes(hidden), nn.ReLU)
        self.D = sequential_mlp(d_sizes(hidden), lambda: nn.LeakyReLU(0.2))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.objective = LOSSES[OBJECTIVE]

    def _endless_batches(self):
        while True:  # a new shuffle of both sets every epoch
            yield from zip(self.noise_loader, self.real_loader)

    def step(self) -> None:
        z, real = next(self.batches)
        fake = self.G(z)
        real_logits = self.D(real).squeeze(-1)
        fake_logits = self.D(fake.detach()).squeeze(-1)
        loss_d = self.objective.d_loss(real_logits, fake_logits, 1.0)
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()

        loss_g = self.objective.g_loss(self.D(fake).squeeze(-1), 1.0)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.steps += 1


def ring_spec(seeds: int, threads: int, hidden: int) -> dict:
    """A job spec built as the workflow builds one: validate_config + ring_jobs."""
    study = {
        "dataset": "ring",
        "grids": [{"objective": OBJECTIVE}],
        "seeds": seeds,
        "data": {"n_train": N_TRAIN},
        "model": {"g_hidden": hidden, "g_width": G_WIDTH, "d_hidden": hidden, "d_width": D_WIDTH},
        "train": {"steps": 10**9, "batch_size": BATCH},
        "execution": {"seeds_per_job": seeds, "threads": threads, "device": "cpu"},
    }
    config = validate_config({"studies": {"bench": study}})
    (spec,) = ring_jobs("bench", config["studies"]["bench"]).values()
    return spec


class Ours:
    """``RingTrainer.train_step`` with S stacked seeds."""

    def __init__(self, seeds: int, threads: int, hidden: int):
        self.work = seeds  # seed-steps per step()
        self.trainer = RingTrainer(ring_spec(seeds, threads, hidden))

    @property
    def steps(self) -> int:
        return self.trainer.step

    def step(self) -> None:
        self.trainer.train_step()


class OursAllBaddbmm(Ours):
    """``ours@S`` with every layer as one ``baddbmm`` [S, B, in] @ [S, in, out], as before
    ``stacked_linear`` gave the thin output layers (1 logit, 2 coordinates) their own path."""

    def step(self) -> None:
        with patch.object(mlp, "stacked_linear", lambda x, w, b: torch.baddbmm(b, x, w)):
            self.trainer.train_step()


class StepGemms:
    """The products of one ``ours@S`` step and nothing else: the bound on ours.

    The same batched products, with the same shapes and memory layouts as the trainer's autograd
    graph, each on its own operands, in the order of a step. A layer is arranged as
    ``stacked_linear`` arranges it: weights ``[S, in, out]``; a wide layer is one ``bmm`` (input
    grads dX = dY·Wᵀ through a transposed view, weight grads dW = Xᵀ·dY); a thin one (under
    ``THIN_OUTPUT`` columns) is the transposed product (Wᵀ·Xᵀ)ᵀ; a 1-column one a weighted sum.
    Their FLOP are exactly the minimal count, so its "% fp32 peak" is the most that any
    implementation built on these products can reach: elementwise work, Adam and the data only
    come on top.
    """

    steps = 0  # never restarted

    def __init__(self, seeds: int, hidden: int):
        self.work = seeds  # seed-steps per step()
        gen = torch.Generator().manual_seed(0)
        self.ops: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # the bmm calls
        self.weighted_sums: list[
            tuple[torch.Tensor, torch.Tensor, int | None]
        ] = []  # 1-column layers
        self.flop = 0

        def gemm(m: int, k: int, n: int, transpose: str = "") -> None:
            """[S, m, k] @ [S, k, n]; "a" / "b": that operand is a transposed view."""
            a = torch.randn(seeds, *((k, m) if "a" in transpose else (m, k)), generator=gen)
            b = torch.randn(seeds, *((n, k) if "b" in transpose else (k, n)), generator=gen)
            a = a.transpose(1, 2) if "a" in transpose else a
            b = b.transpose(1, 2) if "b" in transpose else b
            self.ops.append((a, b, torch.empty(seeds, m, n)))
            self.flop += 2 * seeds * m * k * n

        def weighted_sum(batch: int, fan_in: int, reduce_dim: int | None) -> None:
            """[S, batch, in] * [S, 1 or batch, *], summed over reduce_dim (None: no sum)."""
            x = torch.randn(seeds, batch, fan_in, generator=gen)
            y = torch.randn(
                seeds,
                1 if reduce_dim != 1 else batch,
                fan_in if reduce_dim != 1 else 1,
                generator=gen,
            )
            self.weighted_sums.append((x, y, reduce_dim))
            self.flop += 2 * seeds * batch * fan_in

        def forward(sizes: list[int], batch: int, input_transposed: bool = False) -> None:
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                if fan_out == 1:
                    weighted_sum(batch, fan_in, reduce_dim=-1)
                elif fan_out < THIN_OUTPUT:
                    gemm(fan_out, fan_in, batch, transpose="ab")  # (Wᵀ Xᵀ)ᵀ
                else:
                    gemm(
                        batch, fan_in, fan_out, transpose="a" if i == 0 and input_transposed else ""
                    )

        def backward(sizes: list[int], batch: int, weight_grads: bool, first_input: bool):
            layers = list(zip(sizes[:-1], sizes[1:]))
            for i, (fan_in, fan_out) in reversed(list(enumerate(layers))):
                input_grads = i > 0 or first_input
                if fan_out == 1:
                    if input_grads:
                        weighted_sum(batch, fan_in, reduce_dim=None)  # dX = dY w
                    if weight_grads:
                        weighted_sum(batch, fan_in, reduce_dim=1)  # dw = Σ_b x dY
                    continue
                thin = fan_out < THIN_OUTPUT
                if input_grads:  # dX = dY Wᵀ, or its transpose W dYᵀ for a thin layer
                    gemm(
                        *((fan_in, fan_out, batch) if thin else (batch, fan_out, fan_in)),
                        transpose="b",
                    )
                if weight_grads:  # dW = Xᵀ dY, or its transpose dYᵀ X for a thin layer
                    gemm(
                        *((fan_out, batch, fan_in) if thin else (fan_in, batch, fan_out)),
                        transpose="a",
                    )

        g, d = g_sizes(hidden), d_sizes(hidden)
        forward(g, BATCH)  # fake = G(z)
        forward(d, 2 * BATCH)  # D step: real and fake in one pass
        backward(d, 2 * BATCH, weight_grads=True, first_input=False)
        forward(d, BATCH, input_transposed=True)  # G step: D on G's output, (Wᵀ Xᵀ)ᵀ + b
        backward(d, BATCH, weight_grads=False, first_input=True)
        backward(g, BATCH, weight_grads=True, first_input=False)
        minimal = seeds * minimal_flop_per_seed_step(hidden)
        assert self.flop == minimal, f"product FLOP {self.flop} != minimal {minimal}"

    def step(self) -> None:
        for a, b, out in self.ops:
            torch.bmm(a, b, out=out)
        for x, y, reduce_dim in self.weighted_sums:
            product = x * y
            if reduce_dim is not None:
                product.sum(reduce_dim)


class PeakMatmul:
    """Square fp32 ``torch.mm`` into a preallocated output; one step = one product."""

    def __init__(self, n: int):
        gen = torch.Generator().manual_seed(0)
        self.a = torch.randn(n, n, generator=gen)
        self.b = torch.randn(n, n, generator=gen)
        self.out = torch.empty(n, n)
        self.work = 2 * n**3  # FLOP per step()

    def step(self) -> None:
        torch.mm(self.a, self.b, out=self.out)


# ---- timing ---------------------------------------------------------------------------------
Runner = ReferenceLoop | Ours | StepGemms | PeakMatmul  # what Timed measures


@dataclass
class Timed:
    name: str
    make: Callable[[], Runner]  # builds a fresh runner (a new training run)
    rates: list[float] = field(default_factory=list)  # seed-steps/s, or FLOP/s for the peak
    last_step: int = 0  # the latest training step that was timed

    def __post_init__(self):
        self.runner = self.make()

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def training(self) -> bool:
        return not isinstance(self.runner, PeakMatmul)


def steps_per_second(step: Callable[[], None], min_seconds: float) -> float:
    """Call ``step`` until ``min_seconds`` have passed; the rate of calls per second."""
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return n / elapsed


def measure(variants: list[Timed], args, fresh_after: int) -> None:
    """Warm every variant up, then run them round-robin, rotating the order each repeat. A training
    variant past ``fresh_after`` steps (0: never) restarts as a new run, untimed, before a repeat.
    """
    for v in variants:
        steps_per_second(v.runner.step, args.warmup)
    for r in range(args.repeats):
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            if v.training and fresh_after and v.runner.steps > fresh_after:
                v.runner = v.make()
                steps_per_second(v.runner.step, args.warmup)
            seconds = args.min_seconds if v.training else args.peak_seconds
            v.rates.append(steps_per_second(v.runner.step, seconds) * v.runner.work)
            v.last_step = max(v.last_step, getattr(v.runner, "steps", 0))


def measure_threads(threads: int, args) -> tuple[list[Timed], list[Timed]]:
    """All variants at one thread count: (training variants, peak matmuls)."""
    torch.set_num_threads(threads)
    training = [Timed("reference (1 seed)", lambda: ReferenceLoop(args.hidden))]
    training += [Timed(f"ours@{s}", lambda s=s: Ours(s, threads, args.hidden)) for s in args.seeds]
    training += [
        Timed(
            f"ours@{s}, every layer one baddbmm",
            lambda s=s: OursAllBaddbmm(s, threads, args.hidden),
        )
        for s in args.seeds
    ]
    training += [
        Timed(f"bound: the products of ours@{s} alone", lambda s=s: StepGemms(s, args.hidden))
        for s in args.seeds
    ]
    peaks = [Timed(f"fp32 torch.mm n={n}", lambda n=n: PeakMatmul(n)) for n in args.peak_sizes]
    for v in training:  # untimed, to reach a later phase of training
        for _ in range(args.pretrain_steps):
            v.runner.step()
    measure(training + peaks, args, fresh_after=0 if args.pretrain_steps else args.fresh_after)
    return training, peaks


# ---- report ---------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(args) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"Date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
            f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
            f"MKL {'yes' if torch.backends.mkl.is_available() else 'no'}, "
            f"python {platform.python_version()}",
            f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; load average before: {load}",
            f"Threads measured: {' '.join(map(str, args.threads))}; repeats {args.repeats}, "
            f">= {args.min_seconds:g} s of training each (median shown); seeds {args.seeds}; "
            f"hidden layers {args.hidden}; untimed pretrain steps {args.pretrain_steps}; "
            f"flush denormals {'on' if args.flush_denormal else 'off'}",
        ]
    )


def results_table(blocks: list[tuple[int, list[Timed], list[Timed]]], flop: int) -> str:
    lines = [
        "| threads | variant | seed-steps/s | range | x reference | GFLOP/s | % fp32 peak | steps |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for threads, training, peaks in blocks:
        best = max(peaks, key=lambda p: p.median)
        peak = best.median / 1e9
        reference = training[0].median
        for v in training:
            gflops = flop * v.median / 1e9
            lines.append(
                f"| {threads} | {v.name} | {v.median:.1f} | {min(v.rates):.0f}-{max(v.rates):.0f} | "
                f"{v.median / reference:.2f} | {gflops:.1f} | {100 * gflops / peak:.0f} % | "
                f"{v.last_step or ''} |"
            )
        for p in peaks:
            lines.append(
                f"| {threads} | {p.name}{' (peak)' if p is best else ''} | | "
                f"{min(p.rates) / 1e9:.0f}-{max(p.rates) / 1e9:.0f} | | {p.median / 1e9:.1f} | "
                f"{100 * p.median / best.median:.0f} % | |"
            )
    return "\n".join(lines)


def unstable_note(blocks: list[tuple[int, list[Timed], list[Timed]]], spread: float = 1.3) -> str:
    """A warning when repeats disagree or the peak does not scale with the threads: other
    processes were competing for the cores."""
    bad = [
        f"threads={threads}: repeats of {v.name} differ by more than {spread:.1f}x"
        for threads, training, peaks in blocks
        for v in training + peaks
        if max(v.rates) > spread * min(v.rates)
    ]
    peak = {threads: max(p.median for p in peaks) for threads, _, peaks in blocks}
    bad += [
        f"threads={threads}: the fp32 peak is only {peak[threads] / peak[1]:.1f}x the 1-thread peak"
        for threads in peak
        if 1 in peak and threads > 1 and peak[threads] < 0.7 * threads * peak[1]
    ]
    if not bad:
        return ""
    return (
        f"WARNING: {'; '.join(bad)}. Usually other "
        "load was competing for the cores (with 2 threads on 2 busy cores, OpenMP steps can slow "
        "down 10-100x); rerun on an idle machine before quoting these numbers. Late in training "
        "without --flush-denormal, subnormal Adam moments can also cause it (see the docstring)."
    )


# ---- command line ---------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seeds", type=int, nargs="+", default=[32], help="S values for ours@S")
    p.add_argument("--hidden", type=int, default=4, help="hidden layers of G and D (paper: 4)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=1.5, help="training time per repeat")
    p.add_argument("--peak-seconds", type=float, default=0.5, help="time per repeat per mm size")
    p.add_argument("--peak-sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    p.add_argument("--warmup", type=float, default=0.5, help="seconds per variant before timing")
    p.add_argument("--pretrain-steps", type=int, default=0, help="untimed steps before warm-up")
    p.add_argument(
        "--fresh-after",
        type=int,
        default=200,
        help="restart a training variant past this many steps (0: never; off with pretraining)",
    )
    p.add_argument(
        "--flush-denormal",
        action="store_true",
        help="torch.set_flush_denormal(True) at start: subnormal floats become 0 (FTZ/DAZ)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 short repeat")
    p.add_argument("--check-flops", action="store_true", help="only check the FLOP count")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.min_seconds, args.peak_seconds, args.warmup = 1, 0.2, 0.05, 0.05
        args.peak_sizes = [1024]
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.flush_denormal:  # before the first parallel op: OpenMP workers inherit the mode
        torch.set_flush_denormal(True)
    check_flops()
    if args.check_flops:
        print(flop_table(hidden=2))
        print(f"\nOK: {minimal_flop_per_seed_step(2) / 1e6:.1f} MFLOP matches perf_baseline.md")
        return
    print(machine_facts(args), end="\n\n")
    flop = minimal_flop_per_seed_step(args.hidden)
    print(flop_table(args.hidden), end="\n\n")
    blocks, loads = [], []
    for threads in args.threads:
        training, peaks = measure_threads(threads, args)
        blocks.append((threads, training, peaks))
        loads.append(f"{threads} thread(s): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(results_table(blocks, flop))
    note = unstable_note(blocks)
    if note:
        print(f"\n{note}")
    print(f"\nload average after {'; '.join(loads)}")


if __name__ == "__main__":
    main()
