"""Evaluation of trained image GANs: FID (and PRDC / KID) per generator snapshot, image artefacts.

For every seed of a training job and every generator snapshot it kept, N images are
generated from latents drawn with the study's evaluation seed (the same latents for every
run and checkpoint), passed through the metric's feature extractor and compared with the
cached reference statistics. The same pass keeps the features of the first
``eval.feature_samples`` images, which give precision / recall / density / coverage and,
optionally, KID against the real features stored with the reference statistics (no second
pass over the images). Every row records its protocol. The final generator of each seed also
gives an 8×8 sample grid, a 21-image latent interpolation and, for AC-GAN, a per-class grid,
stored as uint8 arrays for the figures. :func:`aggregate_image` builds the study tables.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gansweep.io import read_table, write_bytes, write_parquet
from gansweep.metrics import diversity
from gansweep.metrics import fid as fid_metric
from gansweep.models import MODELS
from gansweep.training.ring import resolve_device

N_INTERPOLATION = 21  # seed 001 figs. 6–7
GRID = 64
PER_CLASS = 10
FEATURE_SAMPLES = 10_000  # default eval.feature_samples: real and fake features for PRDC / KID
# Per-checkpoint values summarised over seeds (mean, std, median, t-CI) in summary.parquet.
SUMMARY_METRICS = ("fid", "fid_tv_logits", *diversity.PRDC_COLUMNS, "kid")


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
        return to_uint8(
            generator(z.to(device), None if y is None else y.to(device))
            if n_classes
            else generator(z.to(device))
        )

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


def _real_features(metric: str, path: Path) -> np.ndarray:
    features = fid_metric.load_stats(path, features=True)["features"]
    if features is None:
        raise ValueError(
            f"reference statistics {path} hold no real features, which precision / recall / density / "
            f"coverage and KID need (the file predates them). Delete it and run the pipeline again: the "
            f"rule `{fid_metric.REFERENCE_RULE}` recomputes it; or set eval.feature_metrics: [] for this study."
        )
    return features


def feature_metrics(
    real: np.ndarray, fake: np.ndarray, which: list[str], seed: int, log=sys.stderr
) -> dict:
    """PRDC and / or KID of the kept fake features against the stored real ones, on equally many
    of each (the first ``min(len(real), len(fake))``: both are random samples already)."""
    n = min(len(real), len(fake))
    row: dict = {"feature_n": n}
    if "prdc" in which:
        row["prdc_k"] = diversity.NEAREST_K
        if n >= diversity.NEAREST_K + 2:
            row.update(diversity.prdc(real[:n], fake[:n]))
        else:
            print(
                f"PRDC skipped: {n} feature(s) per side, k = {diversity.NEAREST_K} needs {diversity.NEAREST_K + 2}",
                file=log,
            )
            row.update(dict.fromkeys(diversity.PRDC_COLUMNS, float("nan")))
    if "kid" in which:
        row.update(diversity.kid(real[:n], fake[:n], seed=seed))
    return row


def evaluate_image_job(
    spec: dict,
    job_dir: Path,
    references: dict[str, Path],
    weights: dict[str, Path],
    out_table: Path,
    out_images: Path,
    device: str = "auto",
    batch_size: int = 250,
    weights_sha256: dict[str, str] | None = None,
    log=sys.stderr,
) -> pd.DataFrame:
    """FID rows for every (seed, snapshot) of one training job, and its image arrays.

    ``spec["eval"]`` holds ``seed``, ``n_samples``, ``metrics`` and optionally ``feature_metrics``
    (default ``["prdc"]``; computed on the standard FID's features, so only when ``fid`` is among
    the metrics) and ``feature_samples`` (default :data:`FEATURE_SAMPLES`)."""
    device = resolve_device(device)
    # what evaluation uses of the job's runs table (the trainer writes it last, when done)
    runs = read_table(job_dir / "runs.parquet", ["seed", "diverged_step"], "job's runs table")
    runs = runs.set_index("seed")
    eval_cfg = spec["eval"]
    extra = list(eval_cfg.get("feature_metrics", ["prdc"])) if "fid" in eval_cfg["metrics"] else []
    keep = int(eval_cfg.get("feature_samples", FEATURE_SAMPLES))
    extractors = {
        m: fid_metric.load_extractor(m, weights[m], device, (weights_sha256 or {}).get(m))
        for m in eval_cfg["metrics"]
    }
    refs = {m: fid_metric.load_stats(references[m]) for m in eval_cfg["metrics"]}
    for metric, extractor in extractors.items():
        fid_metric.check_compatible(refs[metric], extractor)  # same metric, weights and dims
    real = _real_features("fid", references["fid"])[:keep] if extra else None
    rows, images = [], {}
    for seed in spec["seeds"]:
        run = runs.loc[seed]
        snapshots = sorted((job_dir / f"seed{seed}" / "generators").glob("step*.pt"))
        for snapshot in snapshots:
            generator, state = load_generator(snapshot, device)
            row = {
                "study": spec["study"],
                "dataset": spec["dataset"],
                "cell": spec["cell"],
                "architecture": spec["architecture"],
                "objective": spec["objective"],
                "alpha_d": spec["alpha_d"],
                "alpha_g": spec["alpha_g"],
                "lr_d": spec["lr_d"],
                "lr_g": spec["lr_g"],
                "seed": seed,
                "step": state["step"],
                "epoch": state["epoch"],
                "status": "ok",
                "diverged_step": run["diverged_step"],
                "eval_seed": eval_cfg["seed"],
                "generator_mode": "eval",
            }
            for metric, extractor in extractors.items():
                ref = refs[metric]
                n_fake = eval_cfg["n_samples"] if metric == "fid" else int(ref["n"])
                stream = LatentStream(eval_cfg["seed"], state["z_dim"], state["n_classes"], device)
                kept = (
                    fid_metric.FeatureSample(min(keep, n_fake))
                    if metric == "fid" and extra
                    else None
                )
                mu, sigma, n = fid_metric.generated_stats(
                    metric,
                    stream.sampler(generator),
                    n_fake,
                    batch_size,
                    extractor,
                    device,
                    sample=kept,
                    desc=f"{metric} {spec['cell']} seed {seed} step {state['step']}",
                )
                value = fid_metric.frechet_distance(mu, sigma, ref["mu"], ref["sigma"])
                prefix = "" if metric == "fid" else f"{metric}_"
                row.update(
                    {
                        metric: value,
                        f"{prefix}n_fake": n,
                        f"{prefix}ref_split": ref["protocol"]["split"],
                        f"{prefix}ref_size": int(ref["n"]),
                        f"{prefix}dims": int(mu.shape[0]),
                        f"{prefix}weights_sha256": extractor.weights_sha256,
                    }
                )
                if kept is not None:
                    row.update(feature_metrics(real, kept.features(), extra, eval_cfg["seed"], log))
            rows.append(row)
            shown = [m for m in (*extractors, "recall", "coverage", "kid") if m in row]
            print(
                f"{spec['cell']} seed {seed} step {state['step']}: "
                + ", ".join(f"{m} {row[m]:.4g}" for m in shown),
                file=log,
                flush=True,
            )
        if snapshots:
            generator, state = load_generator(snapshots[-1], device)
            for name, array in image_artefacts(generator, state, eval_cfg["seed"], device).items():
                images[f"seed{seed}/{name}"] = array
    table = pd.DataFrame(rows)
    write_parquet(table, out_table)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **images)
    write_bytes(buffer.getvalue(), out_images)
    return table


def aggregate_image(
    evals: pd.DataFrame, train_runs: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, summary) of an image study: one row per run and evaluated checkpoint (diverged runs
    with NaN values at the checkpoints they never reached), and per cell and checkpoint the
    mean / std / median / t 95 % CI over seeds of every metric in :data:`SUMMARY_METRICS` present.
    ``n_ok`` counts the seeds with a finite FID (the first metric present)."""
    from gansweep.tables import IMAGE_CELL, summarize_fid, with_diverged_runs

    runs = with_diverged_runs(evals, train_runs).sort_values(
        ["cell", "seed", "step"], ignore_index=True
    )
    summaries = [summarize_fid(runs, m) for m in SUMMARY_METRICS if m in runs]
    summary = summaries[0]
    keys = IMAGE_CELL + ["step", "epoch", "n_seeds"]
    for extra in summaries[1:]:
        summary = summary.merge(extra.drop(columns="n_ok"), on=keys, how="outer")
    return runs, summary
