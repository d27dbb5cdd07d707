"""Evaluation of trained image GANs: FID per generator snapshot, and image artefacts.

For every seed of a training job and every generator snapshot it kept, N images are
generated from latents drawn with the study's evaluation seed (the same latents for every
run and checkpoint), passed through the metric's feature extractor and compared with the
cached reference statistics. Every row records its protocol. The final generator of each
seed also gives an 8×8 sample grid, a 21-image latent interpolation and, for AC-GAN, a
per-class grid, stored as uint8 arrays for the figures.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gansweep.io import atomic_path, write_parquet
from gansweep.metrics import fid as fid_metric
from gansweep.models import MODELS
from gansweep.training.ring import resolve_device

N_INTERPOLATION = 21  # seed 001 figs. 6–7
GRID = 64
PER_CLASS = 10


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[−1, 1] NCHW → uint8 NHWC, quantised as a saved PNG would be."""
    x = ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def load_generator(snapshot: Path, device: torch.device):
    state = torch.load(snapshot, map_location=device, weights_only=False)
    pair = MODELS[state["architecture"]](z_dim=state["z_dim"], n_classes=state["n_classes"])
    generator = pair.generator.to(device)
    generator.load_state_dict(state["generator"])
    return generator.eval(), state


class LatentStream:
    """The evaluation latents (and AC-GAN labels): a fixed sequence from the eval seed."""

    def __init__(self, eval_seed: int, z_dim: int, n_classes: int, device: torch.device):
        self.gen = torch.Generator().manual_seed(eval_seed)
        self.z_dim, self.n_classes, self.device = z_dim, n_classes, device

    def sampler(self, generator):
        @torch.no_grad()
        def sample(k: int) -> torch.Tensor:
            z = torch.randn(k, self.z_dim, generator=self.gen).to(self.device)
            if self.n_classes:
                y = torch.randint(self.n_classes, (k,), generator=self.gen).to(self.device)
                return generator(z, y)
            return generator(z)

        return sample


@torch.no_grad()
def image_artefacts(generator, state: dict, eval_seed: int, device) -> dict[str, np.ndarray]:
    gen = torch.Generator().manual_seed(eval_seed + 1)
    z_dim, n_classes = state["z_dim"], state["n_classes"]

    def run(z, y=None):
        return to_uint8(generator(z.to(device), None if y is None else y.to(device)) if n_classes
                        else generator(z.to(device)))  # fmt: skip

    z = torch.randn(GRID, z_dim, generator=gen)
    labels = torch.arange(GRID) % n_classes if n_classes else None
    out = {"grid": run(z, labels)}
    # Seed 001: images along the straight line λ·z1 + (1 − λ)·z2, λ in [0, 1].
    z1, z2 = torch.randn(2, z_dim, generator=gen)
    lam = torch.linspace(0, 1, N_INTERPOLATION).unsqueeze(1)
    line = lam * z1 + (1 - lam) * z2
    same_label = torch.zeros(N_INTERPOLATION, dtype=torch.long) if n_classes else None
    out["interpolation"] = run(line, same_label)
    if n_classes:
        zc = torch.randn(PER_CLASS, z_dim, generator=gen).repeat(n_classes, 1)
        yc = torch.arange(n_classes).repeat_interleave(PER_CLASS)
        out["classes"] = run(zc, yc)  # class-major, the same latents in every row
        out["n_classes"] = np.array(n_classes)
    return out


def evaluate_image_job(
    spec: dict, job_dir: Path, references: dict[str, Path], weights: dict[str, Path],
    out_table: Path, out_images: Path, device: str = "auto", batch_size: int = 250,
    weights_sha256: dict[str, str] | None = None, log=sys.stderr,
) -> pd.DataFrame:  # fmt: skip
    """FID rows for every (seed, snapshot) of one training job, and its image arrays."""
    device = resolve_device(device)
    runs = pd.read_parquet(job_dir / "runs.parquet").set_index("seed")
    eval_cfg = spec["eval"]
    extractors = {m: fid_metric.load_extractor(m, weights[m], device,
                                               (weights_sha256 or {}).get(m)) for m in eval_cfg["metrics"]}  # fmt: skip
    refs = {m: fid_metric.load_stats(references[m]) for m in eval_cfg["metrics"]}
    for metric, extractor in extractors.items():
        fid_metric.check_compatible(refs[metric], extractor)  # same metric, weights and dims
    rows, images = [], {}
    for seed in spec["seeds"]:
        run = runs.loc[seed]
        snapshots = sorted((job_dir / f"seed{seed}" / "generators").glob("step*.pt"))
        for snapshot in snapshots:
            generator, state = load_generator(snapshot, device)
            row = {
                "study": spec["study"], "dataset": spec["dataset"], "cell": spec["cell"],
                "architecture": spec["architecture"], "objective": spec["objective"],
                "alpha_d": spec["alpha_d"], "alpha_g": spec["alpha_g"],
                "lr_d": spec["lr_d"], "lr_g": spec["lr_g"], "seed": seed,
                "step": state["step"], "epoch": state["epoch"], "status": "ok",
                "diverged_step": run["diverged_step"], "eval_seed": eval_cfg["seed"],
                "generator_mode": "eval",
            }  # fmt: skip
            for metric, extractor in extractors.items():
                ref = refs[metric]
                n_fake = eval_cfg["n_samples"] if metric == "fid" else int(ref["n"])
                stream = LatentStream(eval_cfg["seed"], state["z_dim"], state["n_classes"], device)
                mu, sigma, n = fid_metric.generated_stats(
                    metric, stream.sampler(generator), n_fake, batch_size, extractor, device
                )
                value = fid_metric.frechet_distance(mu, sigma, ref["mu"], ref["sigma"])
                prefix = "" if metric == "fid" else f"{metric}_"
                row.update({
                    metric: value, f"{prefix}n_fake": n, f"{prefix}ref_split": ref["protocol"]["split"],
                    f"{prefix}ref_size": int(ref["n"]), f"{prefix}dims": int(mu.shape[0]),
                    f"{prefix}weights_sha256": extractor.weights_sha256,
                })  # fmt: skip
            rows.append(row)
            print(f"{spec['cell']} seed {seed} step {state['step']}: "
                  + ", ".join(f"{m} {row[m]:.4g}" for m in extractors), file=log, flush=True)  # fmt: skip
        if snapshots:
            generator, state = load_generator(snapshots[-1], device)
            for name, array in image_artefacts(generator, state, eval_cfg["seed"], device).items():
                images[f"seed{seed}/{name}"] = array
    table = pd.DataFrame(rows)
    write_parquet(table, out_table)
    with atomic_path(out_images) as tmp:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **images)
        tmp.write_bytes(buffer.getvalue())
    return table
