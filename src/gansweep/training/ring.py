"""Seed-vectorised training of MLP GANs on 2D Gaussian mixtures.

All runs of a job (cells × seeds sharing objective, learning rate and architecture) are
trained as one batched computation: parameters carry a leading run axis, every layer is
one ``baddbmm``, and one Adam updates the stacked tensors. Each run keeps its own init,
its own data shuffles and its own αD/αG, so run s is exactly the single-seed training of
the paper (tests/test_ring_equivalence.py checks this to ~1e-10 in float64).

Per minibatch, as in the authors' code: fake = G(z); one D step on (real, fake.detach());
one G step through the updated D on the same fake batch. An epoch walks both the real set
and the fixed latent set in a fresh per-run random order.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from gansweep.checkpoints import load_checkpoint
from gansweep.data import make_toy_data
from gansweep.io import save_torch, write_parquet
from gansweep.joblock import job_lock, lock_path_for
from gansweep.losses import LOSSES
from gansweep.metrics import METRICS
from gansweep.models.mlp import StackedMLP, init_linear_params, mlp_sizes
from gansweep.penalties import CriticBatch, for_job
from gansweep.training.progress import TrainingProgress

LATENT_DIM = 2
DTYPES = {"float32": torch.float32, "float64": torch.float64}
CHECKPOINT_KEYS = (
    "fingerprint",
    "step",
    "pos",
    "G",
    "D",
    "opt_g",
    "opt_d",
    "generators",
    "perm_real",
    "perm_noise",
    "first_bad",
    "rows",
)


def run_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator owned by one run and one purpose (init, shuffle, noise, penalty), so a
    run's random stream does not depend on which other runs share its job."""
    digest = hashlib.sha256(f"gansweep/{seed}/{purpose}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("execution.device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


def flush_denormals() -> bool:
    """Flush subnormal floats to zero (returns whether the CPU supports it). Adam's moments of
    weights that stopped receiving gradients (dead ReLUs) sink into the subnormal range after
    a few hundred steps, and arithmetic on them makes a CPU step about 2× slower; only fp32
    values below 1.2e-38 are affected. Call it before torch starts its worker threads."""
    return torch.set_flush_denormal(True)


def spec_fingerprint(spec: dict) -> str:
    """Identifies what a checkpoint was trained for; progress settings do not count."""
    relevant = {k: v for k, v in spec.items() if k != "execution"}
    relevant["dtype"] = spec["execution"]["dtype"]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def initial_params(spec: dict, seed: int) -> tuple[list, list]:
    """Per-run initial (G, D) parameters; shared with single-seed reference code."""
    m = spec["model"]
    gen = run_generator(seed, "init")
    g = init_linear_params(mlp_sizes(LATENT_DIM, m["g_hidden"], m["g_width"], 2), gen)
    d = init_linear_params(mlp_sizes(2, m["d_hidden"], m["d_width"], 1), gen)
    return g, d


class RingTrainer:
    """Trains every run of one job spec (see gansweep.plan.ring_jobs)."""

    def __init__(self, spec: dict):
        self.spec = spec
        ex = spec["execution"]
        self.device = resolve_device(ex["device"])
        self.dtype = DTYPES[ex["dtype"]]
        self.objective = LOSSES[spec["objective"]]
        self.regularisers = for_job(self.objective, spec["train"])
        self.runs = spec["runs"]
        n = len(self.runs)

        data = make_toy_data(
            spec["dataset"],
            spec["data"]["n_train"],
            spec["data"]["n_test"],
            spec["data"]["data_seed"],
            LATENT_DIM,
        )
        self.mixture = data.mixture
        self.real = data.train_real.to(self.device, self.dtype)
        self.noise = data.train_noise.to(self.device, self.dtype)
        self.test_noise = data.test_noise.to(self.device, self.dtype)

        m = spec["model"]
        self.G = StackedMLP(n, mlp_sizes(LATENT_DIM, m["g_hidden"], m["g_width"], 2), "relu")
        self.D = StackedMLP(n, mlp_sizes(2, m["d_hidden"], m["d_width"], 1), "leaky_relu")
        self.G.to(self.device, self.dtype)
        self.D.to(self.device, self.dtype)
        inits = [initial_params(spec, r["seed"]) for r in self.runs]
        self.G.load_per_model([g for g, _ in inits])
        self.D.load_per_model([d for _, d in inits])

        # α only matters for the α-loss objectives; other cells carry None.
        def alphas(key):
            return torch.tensor(
                [r[key] or 1.0 for r in self.runs], dtype=self.dtype, device=self.device
            )

        self.alpha_d, self.alpha_g = alphas("alpha_d"), alphas("alpha_g")
        betas = tuple(spec["train"]["betas"])
        fused = self.device.type in ("cpu", "cuda")
        self.opt_d = torch.optim.Adam(self.D.parameters(), spec["lr"], betas, fused=fused)
        self.opt_g = torch.optim.Adam(self.G.parameters(), spec["lr"], betas, fused=fused)

        seeds = [r["seed"] for r in self.runs]
        self.generators = {
            purpose: [run_generator(s, purpose) for s in seeds]
            for purpose in ("shuffle", "noise", "penalty")
        }
        self.step = 0
        self.pos = 0  # position inside the current epoch
        self.perm_real = self.perm_noise = None
        self.first_bad = torch.full((n,), -1, dtype=torch.long, device=self.device)
        self.rows: list[dict] = []
        self.final_samples: Tensor | None = None

    # ---- data -------------------------------------------------------------------------
    def _per_run(self, purpose: str, draw) -> Tensor:
        return torch.stack([draw(g) for g in self.generators[purpose]]).to(self.device)

    def _next_batch(self) -> tuple[Tensor, Tensor]:
        n_train = self.real.shape[0]
        if self.pos == 0:
            self.perm_real = self._per_run(
                "shuffle", lambda g: torch.randperm(n_train, generator=g)
            )
            self.perm_noise = self._per_run(
                "shuffle", lambda g: torch.randperm(n_train, generator=g)
            )
        end = min(self.pos + self.spec["train"]["batch_size"], n_train)
        real = self.real[self.perm_real[:, self.pos : end]]
        if self.spec["data"]["fresh_noise"]:
            b = end - self.pos
            z = self._per_run("noise", lambda g: torch.randn(b, LATENT_DIM, generator=g))
            z = z.to(self.dtype)
        else:
            z = self.noise[self.perm_noise[:, self.pos : end]]
        self.pos = 0 if end == n_train else end
        return real, z

    # ---- one step ---------------------------------------------------------------------
    def _critic(self, x: Tensor) -> Tensor:
        return self.D(x).squeeze(-1)

    def _penalty_uniform(self, b: int) -> Tensor:
        """One U(0, 1) per run and sample, [runs, b, 1], from each run's penalty stream."""
        return self._per_run("penalty", lambda g: torch.rand(b, 1, generator=g)).to(self.dtype)

    @torch.no_grad()
    def _constant_logits(self, x: Tensor) -> Tensor:
        return self._critic(x)

    def train_step(self) -> None:
        obj = self.objective
        real, z = self._next_batch()
        b = real.shape[1]
        fake = self.G(z)

        # D step: real and fake through D in one batched pass, then D's penalties.
        out = self._critic(torch.cat([real, fake.detach()], dim=1))
        loss_d = obj.d_loss(out[:, :b], out[:, b:], self.alpha_d)
        batch = CriticBatch(self._critic, real, fake.detach(), 1, lambda: self._penalty_uniform(b))
        loss_d = self.regularisers.d_loss(loss_d, batch)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        self.opt_d.step()
        self.regularisers.after_d_step(self.D)

        # G step through the updated D, same fake batch; D's weight grads are not needed.
        loss_g = obj.generator_loss(
            self._critic(fake), self.alpha_g, lambda: self._constant_logits(real)
        )
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward(inputs=list(self.G.parameters()))
        self.opt_g.step()

        self.step += 1
        bad = ~(torch.isfinite(loss_d) & torch.isfinite(loss_g))
        self.first_bad = torch.where(bad & (self.first_bad < 0), self.step, self.first_bad)

    # ---- evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, latents: Tensor) -> Tensor:
        """G of every run on shared latents [N, 2] → [runs, N, 2], in memory-sized chunks."""
        n_runs = len(self.runs)
        width = max(self.spec["model"]["g_width"], 1)
        chunk = max(256, int(2**25 // (n_runs * width)))
        outs = [self.G(c.expand(n_runs, *c.shape)) for c in latents.split(chunk)]
        return torch.cat(outs, dim=1)

    def evaluate(self) -> list[dict]:
        samples = self.generate(self.test_noise)
        finite = torch.isfinite(samples).all(-1).all(-1)
        metrics = METRICS["modes"](torch.nan_to_num(samples), self.mixture.means, self.mixture.std)
        metrics = {k: v.cpu().tolist() for k, v in metrics.items()}
        first_bad = self.first_bad.cpu().tolist()
        finite = finite.cpu().tolist()
        epoch = self.step / self.spec["steps_per_epoch"]
        rows = []
        for i, run in enumerate(self.runs):
            row = {
                "alpha_d": run["alpha_d"],
                "alpha_g": run["alpha_g"],
                "seed": run["seed"],
                "step": self.step,
                "epoch": epoch,
                **{k: metrics[k][i] for k in metrics},
                "status": "ok",
                "diverged_step": None,
                "reason": "",
            }
            if first_bad[i] >= 0 or not finite[i]:
                row.update(
                    status="diverged",
                    diverged_step=first_bad[i] if first_bad[i] >= 0 else self.step,
                    reason=f"non-finite loss at step {first_bad[i]}"
                    if first_bad[i] >= 0
                    else f"non-finite generator output at step {self.step}",
                    modes_covered=0,
                    hq_fraction=0.0,
                    success=False,
                    failure=True,
                    kl=float("nan"),
                    rkl=float("nan"),
                    jsd=float("nan"),
                    tvd=float("nan"),
                )
            rows.append(row)
        if self.step == self.spec["steps"]:
            self.final_samples = samples[:, : self.spec["scatter_samples"]].cpu()
        return rows

    # ---- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "fingerprint": spec_fingerprint(self.spec),
            "step": self.step,
            "pos": self.pos,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "generators": {p: [g.get_state() for g in gs] for p, gs in self.generators.items()},
            "perm_real": self.perm_real,
            "perm_noise": self.perm_noise,
            "first_bad": self.first_bad,
            "rows": self.rows,
        }

    def load_state_dict(self, state: dict) -> None:
        self.step, self.pos = state["step"], state["pos"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for purpose, states in state["generators"].items():
            for g, s in zip(self.generators[purpose], states):
                g.set_state(s)
        self.perm_real, self.perm_noise = state["perm_real"], state["perm_noise"]
        self.first_bad = state["first_bad"].to(self.device)
        self.rows = state["rows"]

    def try_resume(self, path: Path, log=sys.stderr) -> bool:
        state = load_checkpoint(path, self.device, CHECKPOINT_KEYS, log)
        if state is None:
            return False
        if state["fingerprint"] != spec_fingerprint(self.spec):
            print(f"ignoring checkpoint {path}: it belongs to another job spec", file=log)
            return False
        self.load_state_dict(state)
        print(f"resumed from {path} at step {self.step}", file=log, flush=True)
        return True

    # ---- the whole job ----------------------------------------------------------------
    def fit(self, checkpoint: Path | None = None, log=sys.stderr) -> list[dict]:
        total = self.spec["steps"]
        evals = set(self.spec["eval_steps"])
        ex = self.spec["execution"]
        if checkpoint is not None:
            self.try_resume(checkpoint, log)
        label = f"{self.spec['study']}/{self.spec['job']}"
        n_runs = len(self.runs)
        with TrainingProgress(label, total, self.step, ex["log_every"], log) as progress:
            t0, step0 = time.perf_counter(), self.step
            while self.step < total:
                self.train_step()
                if self.step in evals:
                    self.rows += self.evaluate()
                # Callables: evaluated only when a line or the bar shows them (a device sync).
                progress.update(
                    self.step,
                    {
                        "epoch": lambda: f"{self.step / self.spec['steps_per_epoch']:.2f}",
                        "run-steps/s": lambda: (
                            f"{(self.step - step0) * n_runs / max(time.perf_counter() - t0, 1e-9):.0f}"
                        ),
                        "diverged": lambda: f"{int((self.first_bad >= 0).sum())}/{n_runs}",
                    },
                )
                if (
                    checkpoint is not None
                    and self.step % ex["checkpoint_every"] == 0
                    and self.step < total
                ):
                    save_torch(self.state_dict(), checkpoint)
        return self.rows


def job_metadata(spec: dict, device: torch.device) -> dict:
    m = spec["model"]
    return {
        "study": spec["study"],
        "dataset": spec["dataset"],
        "objective": spec["objective"],
        "lr": spec["lr"],
        "job": spec["job"],
        "g_hidden": m["g_hidden"],
        "g_width": m["g_width"],
        "d_hidden": m["d_hidden"],
        "d_width": m["d_width"],
        "batch_size": spec["train"]["batch_size"],
        "steps_total": spec["steps"],
        "fresh_noise": spec["data"]["fresh_noise"],
        "n_eval_samples": spec["data"]["n_test"],
        # The rest of the protocol, so a paper comparison can check every field it fixes.
        "n_train": spec["data"]["n_train"],
        "data_seed": spec["data"]["data_seed"],
        "beta1": float(spec["train"]["betas"][0]),
        "beta2": float(spec["train"]["betas"][1]),
        "r1_gamma": float(spec["train"].get("r1_gamma", 0.0)),
        "r2_gamma": float(spec["train"].get("r2_gamma", 0.0)),
        "dtype": spec["execution"]["dtype"],
        "device": device.type,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        # Where the job ran: a scheduler's job id and the GPUs it granted, if any.
        "host": platform.node(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }


def run_job(spec: dict, runs_out: Path, samples_out: Path, checkpoint: Path, log=sys.stderr):
    """Train one job, write its per-run table and scatter samples, drop the checkpoint."""
    with job_lock(lock_path_for(checkpoint), f"{spec['study']}/{spec['job']}"):
        _run_job(spec, runs_out, samples_out, checkpoint, log)


def _run_job(spec: dict, runs_out: Path, samples_out: Path, checkpoint: Path, log) -> None:
    flushed = flush_denormals()
    torch.set_num_threads(spec["execution"]["threads"])
    trainer = RingTrainer(spec)
    t0 = time.perf_counter()
    rows = trainer.fit(checkpoint, log)
    if trainer.final_samples is None:  # resumed after the final evaluation's rows were saved
        trainer.evaluate()
    meta = {**job_metadata(spec, trainer.device), "flush_denormal": flushed}
    table = pd.DataFrame([{**meta, **row} for row in rows])
    table["wall_time_s"] = time.perf_counter() - t0
    write_parquet(table, runs_out)

    keep = set(spec["scatter_seeds"])
    parts = []
    for i, run in enumerate(spec["runs"]):
        if run["seed"] in keep:
            xy = trainer.final_samples[i].double().numpy()
            parts.append(
                pd.DataFrame(
                    {
                        "study": spec["study"],
                        "objective": spec["objective"],
                        "lr": spec["lr"],
                        "alpha_d": run["alpha_d"],
                        "alpha_g": run["alpha_g"],
                        "seed": run["seed"],
                        "step": spec["steps"],
                        "x": xy[:, 0],
                        "y": xy[:, 1],
                    }
                )
            )
    write_parquet(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(), samples_out)
    checkpoint.unlink(missing_ok=True)
    n_bad = int((table.loc[table["step"] == spec["steps"], "status"] == "diverged").sum())
    print(f"wrote {runs_out} ({len(table)} rows, {n_bad} diverged runs)", file=log, flush=True)
