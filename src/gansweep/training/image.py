"""Training of convolutional GANs (DCGAN, SNGAN-ResNet, AC-GAN) on image datasets.

One job trains one or more seeds of one cell, one after another. Per generator step:
``n_critic`` discriminator steps, each on a fresh real batch and fresh latents (with the
objective's penalties and constraints from gansweep.penalties, and the auxiliary class loss
for AC-GAN), then one generator step on fresh latents. An epoch is one pass of the
discriminator over the training set.

Everything a run needs to continue lives in its checkpoint (G, D, both optimisers, every
RNG, the data order, the step and the log so far), so a killed job resumes where it
stopped and ends with the parameters an uninterrupted run would have (same device and
thread count). A non-finite loss stops the run cleanly; it is recorded as diverged with
its step and the job goes on with the next seed.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from gansweep.checkpoints import load_checkpoint
from gansweep.data import load_split
from gansweep.io import save_torch, write_bytes, write_parquet
from gansweep.joblock import job_lock
from gansweep.losses import LOSSES
from gansweep.models import MODELS, layer_weight
from gansweep.penalties import CriticBatch, for_job
from gansweep.seeding import rng_state, seed_everything, set_rng_state
from gansweep.training.progress import TrainingProgress
from gansweep.training.ring import flush_denormals, resolve_device

SMALL_GRAD = 0.01  # seed 001 counts gradient entries with |g| below this
GRID_IMAGES = 64
CHECKPOINT_KEYS = (
    "seed",
    "step",
    "consumed",
    "status",
    "diverged_step",
    "reason",
    "G",
    "D",
    "opt_g",
    "opt_d",
    "rng",
    "order_gen",
    "order",
    "log_rows",
    "grad_rows",
    "elapsed",
    "spec",
)


def make_optimizer(params, train: dict, lr: float) -> torch.optim.Optimizer:
    if train["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=tuple(train["betas"]))


class ImageTrainer:
    """Trains one seed of one cell (a spec from gansweep.plan.image_jobs, with ``seed``)."""

    def __init__(self, spec: dict, seed: int, log=sys.stderr):
        self.spec, self.seed, self.log = spec, seed, log
        ex, train = spec["execution"], spec["train"]
        self.device = resolve_device(ex["device"])
        cuda = self.device.type == "cuda"
        # TF32 and mixed precision change numerics: explicit, off unless asked for.
        torch.backends.cuda.matmul.allow_tf32 = cuda and ex["tf32"]
        torch.backends.cudnn.allow_tf32 = cuda and ex["tf32"]
        self.amp = ex["amp"]  # bf16 autocast on the job's device, CPU included
        self.channels_last = ex["channels_last"] == "on" or (ex["channels_last"] == "auto" and cuda)
        seed_everything(seed, deterministic=ex["deterministic"])

        self.data = load_split(spec["dataset"], spec["data_dir"], "train")
        self.objective = LOSSES[spec["objective"]]
        self.regularisers = for_job(self.objective, train)
        pair = MODELS[spec["architecture"]](z_dim=train["z_dim"], n_classes=spec["n_classes"])
        self.z_dim, self.n_classes = pair.z_dim, pair.n_classes
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.G = pair.generator.to(self.device, memory_format=fmt)
        self.D = pair.discriminator.to(self.device, memory_format=fmt)
        self.opt_g = make_optimizer(self.G.parameters(), train, spec["lr_g"])
        self.opt_d = make_optimizer(self.D.parameters(), train, spec["lr_d"])

        self.batch = train["batch_size"]
        self.batches_per_epoch = len(self.data) // self.batch
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"batch_size {self.batch} exceeds the {len(self.data)} training images"
            )
        if "steps" in spec:
            self.total_steps = spec["steps"]
        else:
            self.total_steps = math.ceil(
                spec["epochs"] * self.batches_per_epoch / train["n_critic"]
            )
        # Data order has its own generator so that it does not depend on model randomness.
        self.order_gen = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(self.data), generator=self.order_gen)
        self.consumed = 0  # real batches consumed by D
        gen = torch.Generator().manual_seed(spec["eval_seed"])
        self.fixed_z = torch.randn(GRID_IMAGES, self.z_dim, generator=gen).to(self.device)
        self.fixed_y = (torch.arange(GRID_IMAGES) % max(self.n_classes, 1)).to(self.device)
        self.step, self.status, self.diverged_step, self.reason = 0, "ok", None, ""
        self.log_rows: list[dict] = []
        self.grad_rows: list[dict] = []
        self.elapsed = 0.0

    # ---- data and latents -------------------------------------------------------------
    def _real_batch(self) -> tuple[Tensor, Tensor | None]:
        k = self.consumed % self.batches_per_epoch
        if k == 0 and self.consumed > 0:
            self.order = torch.randperm(len(self.data), generator=self.order_gen)
        idx = self.order[k * self.batch : (k + 1) * self.batch].sort().values.numpy()
        self.consumed += 1
        return self.data.batch(idx, self.device, channels_last=self.channels_last)

    def _latents(self, n: int) -> tuple[Tensor, Tensor | None]:
        z = torch.randn(n, self.z_dim, device=self.device)
        y = torch.randint(self.n_classes, (n,), device=self.device) if self.n_classes else None
        return z, y

    def _generate(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.G(z, y) if self.n_classes else self.G(z)

    def _discriminate(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        out = self.D(x)
        return out if isinstance(out, tuple) else (out, None)

    @torch.no_grad()
    def _constant_logits(self, x: Tensor) -> Tensor:
        return self._discriminate(x)[0].float()

    def _autocast(self):
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---- one generator step ---------------------------------------------------------
    def _d_step(self, record: bool) -> dict:
        obj, train = self.objective, self.spec["train"]
        real, y_real = self._real_batch()
        z, y_fake = self._latents(real.shape[0])
        with self._autocast():
            with torch.no_grad():
                fake = self._generate(z, y_fake)
            out_real, cls_real = self._discriminate(real)
            out_fake, cls_fake = self._discriminate(fake)
            loss = obj.d_loss(out_real.float(), out_fake.float(), self.spec["alpha_d"])
            aux = torch.zeros((), device=self.device)
            if cls_real is not None:
                aux = F.cross_entropy(cls_real.float(), y_real) + F.cross_entropy(
                    cls_fake.float(), y_fake
                )
                loss = loss + train["aux_weight"] * aux
        # Penalties run outside autocast, in float32: a gradient norm sums squares that bf16
        # would round to 8 bits, and an AMP fake (bf16) would not meet D's float32 weights.
        batch = CriticBatch(
            lambda x: self._discriminate(x)[0].float(),
            real.float(),
            fake.float(),
            3,
            lambda: torch.rand(real.shape[0], 1, 1, 1, device=self.device),
        )
        loss = self.regularisers.d_loss(loss, batch)
        self._last_real = real  # the G step's real logits, if its objective asks
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if record:
            self._record_grads()
        self.opt_d.step()
        self.regularisers.after_d_step(self.D)
        return {
            "d_loss": loss.detach(),
            "d_aux_loss": aux.detach(),
            "d_real": out_real.detach().float().mean(),
            "d_fake": out_fake.detach().float().mean(),
            "p_real": torch.sigmoid(out_real.detach().float()).mean(),
            "p_fake": torch.sigmoid(out_fake.detach().float()).mean(),
        }

    def _g_step(self) -> dict:
        z, y = self._latents(self.batch)
        with self._autocast():
            fake = self._generate(z, y)
            out, cls = self._discriminate(fake)
            # Real logits (constants) of the last D batch, computed only if the loss asks.
            loss = self.objective.generator_loss(
                out.float(), self.spec["alpha_g"], lambda: self._constant_logits(self._last_real)
            )
            aux = torch.zeros((), device=self.device)
            if cls is not None:
                aux = F.cross_entropy(cls.float(), y)
                loss = loss + self.spec["train"]["aux_weight"] * aux
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.G.parameters()))
        self.opt_g.step()
        return {"g_loss": loss.detach(), "g_aux_loss": aux.detach()}

    def _record_grads(self) -> None:
        """Per-D-layer gradient norm and count of entries with |g| < 0.01 (seed 001 fig. 4)."""
        for name, layer in self.D.layers_for_grad_stats():
            grad = layer_weight(layer).grad
            if grad is None:
                continue
            g = grad.detach().float()
            self.grad_rows.append(
                {
                    "seed": self.seed,
                    "step": self.step + 1,
                    "epoch": self.epoch,
                    "layer": name,
                    "grad_norm": float(g.norm()),
                    "n_small": int((g.abs() < SMALL_GRAD).sum()),
                    "n_entries": g.numel(),
                }
            )

    @property
    def epoch(self) -> float:
        return self.consumed / self.batches_per_epoch

    def _set_learning_rates(self) -> None:
        """Linear decay to 0 over training (the SNGAN protocol), as a pure function of the
        step, so that a resumed run follows the same schedule."""
        scale = (
            1.0 - self.step / self.total_steps
            if self.spec["train"]["lr_decay"] == "linear"
            else 1.0
        )
        for opt, lr in ((self.opt_d, self.spec["lr_d"]), (self.opt_g, self.spec["lr_g"])):
            for group in opt.param_groups:
                group["lr"] = lr * scale

    def train_step(self) -> dict:
        self._set_learning_rates()
        log_every = self.spec["log_every"]
        record = (self.step + 1) % log_every == 0 or self.step == 0
        for i in range(self.spec["train"]["n_critic"]):
            d_stats = self._d_step(record and i == self.spec["train"]["n_critic"] - 1)
        g_stats = self._g_step()
        self.step += 1
        return {**d_stats, **g_stats}

    # ---- artefacts --------------------------------------------------------------------
    @torch.no_grad()
    def save_grid(self, path: Path) -> None:
        from torchvision.utils import save_image

        self.G.eval()
        images = self._generate(self.fixed_z, self.fixed_y if self.n_classes else None).float()
        self.G.train()
        buffer = io.BytesIO()
        save_image(images, buffer, format="png", nrow=8, normalize=True, value_range=(-1, 1))
        write_bytes(buffer.getvalue(), path)

    def state_dict(self) -> dict:
        return {
            "seed": self.seed,
            "step": self.step,
            "consumed": self.consumed,
            "status": self.status,
            "diverged_step": self.diverged_step,
            "reason": self.reason,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": rng_state(),
            "order_gen": self.order_gen.get_state(),
            "order": self.order,
            "log_rows": self.log_rows,
            "grad_rows": self.grad_rows,
            "elapsed": self.elapsed,
            "spec": self.spec,
        }

    def load_state_dict(self, state: dict) -> None:
        for key in (
            "step",
            "consumed",
            "status",
            "diverged_step",
            "reason",
            "log_rows",
            "grad_rows",
            "elapsed",
            "order",
        ):
            setattr(self, key, state[key])
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        set_rng_state(state["rng"])
        self.order_gen.set_state(state["order_gen"])

    # ---- the whole run ----------------------------------------------------------------
    def fit(self, run_dir: Path) -> None:
        ckpt = run_dir / "checkpoint.pt"
        state = load_checkpoint(ckpt, self.device, CHECKPOINT_KEYS, self.log)
        if state is not None and state["spec"] == self.spec:
            self.load_state_dict(state)
            print(
                f"seed {self.seed}: resumed from {ckpt} at step {self.step}",
                file=self.log,
                flush=True,
            )
        elif state is not None:
            print(f"seed {self.seed}: ignoring {ckpt}, it belongs to another spec", file=self.log)
        label = f"{self.spec['study']}/{self.spec['cell']} seed {self.seed}"
        with TrainingProgress(
            label, self.total_steps, self.step, self.spec["log_every"], self.log
        ) as progress:
            self._fit(run_dir, ckpt, label, progress)

    def _fit(self, run_dir: Path, ckpt: Path, label: str, progress: TrainingProgress) -> None:
        t0 = time.perf_counter() - self.elapsed
        if self.step == 0:
            self.save_grid(run_dir / "samples" / "epoch_000.png")
        while self.step < self.total_steps and self.status == "ok":
            epoch_before_exact = self.epoch
            epoch_before = int(epoch_before_exact)
            stats = self.train_step()
            values = {k: float(v) for k, v in stats.items()}
            if not all(math.isfinite(v) for v in values.values()):
                bad = ", ".join(k for k, v in values.items() if not math.isfinite(v))
                self.status, self.diverged_step = "diverged", self.step
                self.reason = f"non-finite {bad} at step {self.step}"
                progress.write(f"[{label}] {self.reason}: stopping this run")
            self.elapsed = time.perf_counter() - t0
            if self.step % self.spec["log_every"] == 0 or self.step == 1 or self.status != "ok":
                self.log_rows.append(
                    {
                        "seed": self.seed,
                        "step": self.step,
                        "epoch": self.epoch,
                        **values,
                        "wall_time_s": self.elapsed,
                    }
                )
            progress.update(
                self.step,
                {
                    "epoch": f"{self.epoch:.2f}",
                    "d_loss": values["d_loss"],
                    "g_loss": values["g_loss"],
                },
            )
            if int(self.epoch) > epoch_before or self.step == self.total_steps:
                self.save_grid(run_dir / "samples" / f"epoch_{math.ceil(self.epoch):03d}.png")
            if self._is_eval_point(epoch_before_exact) and self.status == "ok":
                save_torch(
                    self.generator_snapshot(), run_dir / "generators" / f"step{self.step:07d}.pt"
                )
            if self.step % self.spec["checkpoint_every"] == 0 and self.step < self.total_steps:
                save_torch(self.state_dict(), ckpt)

    def _is_eval_point(self, epoch_before: float) -> bool:
        """Evaluation checkpoints: every ``eval_every_epochs`` epochs, and the final step."""
        every = self.spec["eval_every_epochs"]
        if self.step == self.total_steps:
            return True
        return every is not None and int(self.epoch // every) > int(epoch_before // every)

    def generator_snapshot(self) -> dict:
        """What evaluation needs: G's weights and buffers (BatchNorm statistics) and where."""
        return {
            "generator": self.G.state_dict(),
            "architecture": self.spec["architecture"],
            "z_dim": self.z_dim,
            "n_classes": self.n_classes,
            "seed": self.seed,
            "step": self.step,
            "epoch": self.epoch,
        }

    def final_state(self) -> dict:
        return {
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "architecture": self.spec["architecture"],
            "z_dim": self.z_dim,
            "n_classes": self.n_classes,
            "step": self.step,
            "epoch": self.epoch,
            "status": self.status,
            "seed": self.seed,
        }

    def metadata(self) -> dict:
        s = self.spec
        return {
            "study": s["study"],
            "dataset": s["dataset"],
            "cell": s["cell"],
            "architecture": s["architecture"],
            "objective": s["objective"],
            "alpha_d": s["alpha_d"],
            "alpha_g": s["alpha_g"],
            "lr_d": s["lr_d"],
            "lr_g": s["lr_g"],
            "seed": self.seed,
            "step": self.step,
            "epoch": self.epoch,
            "steps_total": self.total_steps,
            "status": self.status,
            "diverged_step": self.diverged_step,
            "reason": self.reason,
            "batch_size": self.batch,
            "n_critic": s["train"]["n_critic"],
            "optimizer": s["train"]["optimizer"],
            "device": self.device.type,
            "amp_bf16": self.amp,
            "tf32": bool(torch.backends.cudnn.allow_tf32),
            "channels_last": self.channels_last,
            "threads": torch.get_num_threads(),
            "wall_time_s": self.elapsed,
            "torch_version": torch.__version__,
            "host": platform.node(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        }


def run_image_job(spec: dict, out_dir: Path, log=sys.stderr) -> None:
    """Train every seed of one job; write per-seed artefacts and the job's tables.

    Layout: ``out_dir/seed<k>/{final.pt, samples/epoch_XXX.png}`` per seed, and for the job
    ``out_dir/{log,grads,runs}.parquet`` (``runs`` is written last: it marks the job done).
    ``out_dir/train.lock`` keeps a second trainer off the job while this one runs."""
    with job_lock(out_dir / "train.lock", f"{spec['study']}/{spec['cell']}/{out_dir.name}"):
        _run_image_job(spec, out_dir, log)


def _run_image_job(spec: dict, out_dir: Path, log) -> None:
    flushed = flush_denormals()
    torch.set_num_threads(spec["execution"]["threads"])
    logs, grads, runs = [], [], []
    for seed in spec["seeds"]:
        run_dir = out_dir / f"seed{seed}"
        trainer = ImageTrainer(spec, seed, log)
        trainer.fit(run_dir)
        save_torch(trainer.final_state(), run_dir / "final.pt")
        meta = {**trainer.metadata(), "flush_denormal": flushed}
        logs += [{**row, "cell": spec["cell"]} for row in trainer.log_rows]
        grads += [{**row, "cell": spec["cell"]} for row in trainer.grad_rows]
        runs.append(meta)
        (run_dir / "checkpoint.pt").unlink(missing_ok=True)
        print(f"seed {seed}: {meta['status']} after {meta['step']} steps", file=log, flush=True)
    write_parquet(pd.DataFrame(logs), out_dir / "log.parquet")
    write_parquet(pd.DataFrame(grads), out_dir / "grads.parquet")
    write_parquet(pd.DataFrame(runs), out_dir / "runs.parquet")
