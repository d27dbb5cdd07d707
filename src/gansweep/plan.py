"""From a validated study config to cells, seeds and training jobs.

A *cell* is one point of the grid (objective, αD, αG, lr); a *run* is a cell with a seed.
Runs sharing objective and learning rate are packed, ``seeds_per_job`` at a time, into
training jobs that train all their runs as one batched computation. The plan is a pure
function of the config, so the Snakemake DAG is static and dry-runs show the full grid.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

from gansweep.losses import LOSSES
from gansweep.penalties import for_job


@dataclass(frozen=True)
class Cell:
    objective: str
    alpha_d: float | None
    alpha_g: float | None
    lr: float

    def label(self) -> str:
        if self.alpha_d is None:
            return f"{self.objective} lr={slug(self.lr)}"
        return f"{self.objective} ({slug(self.alpha_d)}, {slug(self.alpha_g)}) lr={slug(self.lr)}"


def slug(value: float) -> str:
    """A number as it appears in ids: ``:g`` when that reads back as the same float (1e-4 →
    0.0001), else the shortest exact form (1.0000001e-4 → 0.00010000001). Either way the text
    parses back to the value, so distinct values never share an id; only [0-9a-z.+-] appear."""
    value = float(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def study_cells(study: dict) -> list[Cell]:
    """The union of the study's grids, in config order, without duplicates."""
    cells: dict[Cell, None] = {}
    for grid in study["grids"]:
        objective = grid["objective"]
        if LOSSES[objective].uses_alpha:
            alphas = itertools.product(grid["alpha_d"], grid["alpha_g"])
        else:
            alphas = [(None, None)]
        for (alpha_d, alpha_g), lr in itertools.product(alphas, grid["lr"]):
            cells.setdefault(Cell(objective, alpha_d, alpha_g, float(lr)), None)
    return list(cells)


def n_ring_runs(study: dict) -> int:
    """cells × seeds, counted without enumerating them (an upper bound if grids overlap)."""
    cells = 0
    for grid in study["grids"]:
        alphas = (
            len(grid["alpha_d"]) * len(grid["alpha_g"])
            if LOSSES[grid["objective"]].uses_alpha
            else 1
        )
        cells += alphas * len(grid["lr"])
    return cells * n_seeds(study)


def n_seeds(study: dict) -> int:
    seeds = study["seeds"]
    return seeds if isinstance(seeds, int) else len(seeds)


def study_seeds(study: dict) -> list[int]:
    seeds = study["seeds"]
    return list(range(1, seeds + 1)) if isinstance(seeds, int) else list(seeds)


def steps_per_epoch(study: dict) -> int:
    return math.ceil(study["data"]["n_train"] / study["train"]["batch_size"])


def total_steps(study: dict) -> int:
    train = study["train"]
    return train["steps"] if "steps" in train else train["epochs"] * steps_per_epoch(study)


def n_checkpoints(study: dict) -> int:
    """How many checkpoints ``eval_steps`` lists, without listing them."""
    every = study["eval"]["every"]
    if every is None:
        return 1
    period = every * (1 if "steps" in study["train"] else steps_per_epoch(study))
    return total_steps(study) // period + (total_steps(study) % period > 0)  # + the final step


def eval_steps(study: dict) -> list[int]:
    """Checkpoints to evaluate: every ``eval.every`` (in the unit of train) and the end."""
    total = total_steps(study)
    every = study["eval"]["every"]
    if every is None:
        return [total]
    unit = 1 if "steps" in study["train"] else steps_per_epoch(study)
    return sorted({k * every * unit for k in range(1, total // (every * unit) + 1)} | {total})


# The keys of a job spec that its command requires (`gansweep train-ring --spec`, …): a spec
# lacking one is refused by name before training starts. "plugins" is optional.
RING_SPEC_KEYS = (
    "study",
    "job",
    "dataset",
    "data",
    "model",
    "train",
    "steps",
    "steps_per_epoch",
    "eval_steps",
    "execution",
    "scatter_seeds",
    "scatter_samples",
    "objective",
    "lr",
    "runs",
)
IMAGE_SPEC_KEYS = (
    "study",
    "job",
    "cell",
    "architecture",
    "objective",
    "alpha_d",
    "alpha_g",
    "lr_d",
    "lr_g",
    "n_classes",
    "train",
    "seeds",
    "dataset",
    "data_dir",
    "log_every",
    "eval_seed",
    "eval_every_epochs",
    "checkpoint_every",
    "execution",
)


def ring_jobs(study_name: str, study: dict) -> dict[str, dict]:
    """job id → job spec (a JSON-able dict holding everything the trainer needs)."""
    cells = study_cells(study)
    seeds = study_seeds(study)
    per_job = study["execution"]["seeds_per_job"]
    groups: dict[tuple[str, float], list[dict]] = {}
    for cell in cells:
        runs = groups.setdefault((cell.objective, cell.lr), [])
        runs += [{"alpha_d": cell.alpha_d, "alpha_g": cell.alpha_g, "seed": s} for s in seeds]

    common = {
        "study": study_name,
        "dataset": study["dataset"],
        "data": study["data"],
        "model": study["model"],
        "train": {k: v for k, v in study["train"].items() if k not in ("steps", "epochs")},
        "steps": total_steps(study),
        "steps_per_epoch": steps_per_epoch(study),
        "eval_steps": eval_steps(study),
        "execution": study["execution"],
        "scatter_seeds": seeds[: study["figures"]["scatter_seeds"]],
        "scatter_samples": study["figures"]["scatter_samples"],
        **_plugins(study),
    }
    jobs = {}
    for (objective, lr), runs in groups.items():
        for k in range(0, len(runs), per_job):
            job_id = f"{objective}-lr{slug(lr)}-{k // per_job:03d}"
            jobs[job_id] = {
                **common,
                "job": job_id,
                "objective": objective,
                "lr": lr,
                "runs": runs[k : k + per_job],
            }
    return jobs


def ring_job_cost(spec: dict) -> float:
    """A ring job's relative cost: runs × steps × batch × the hidden-layer MACs of G and D,
    × 1.3 for each extra critic pass with a double backward (WGAN-GP, R1, R2: measured 1.3×
    and 1.6× a plain job's time on the ring). The workflow starts the costliest jobs first,
    so that no core is left waiting on one long job at the end."""
    m = spec["model"]
    macs = m["g_hidden"] * m["g_width"] ** 2 + m["d_hidden"] * m["d_width"] ** 2
    train = spec["train"]
    regularisers = for_job(LOSSES[spec["objective"]], train).all
    passes = sum(p.extra_critic_pass for p in regularisers)
    return len(spec["runs"]) * spec["steps"] * train["batch_size"] * macs * (1 + 0.3 * passes)


def cell_table(study: dict) -> list[dict]:
    return [asdict(c) for c in study_cells(study)]


def _plugins(study: dict) -> dict:
    """The plugin files a job imports before it looks names up; no key when there are none,
    so that specs (and Snakemake's rerun checks) of plugin-free studies stay as they were."""
    return {"plugins": study["plugins"]} if study.get("plugins") else {}


# ---- image studies ------------------------------------------------------------------------
IMAGE_GRID_OVERRIDES = ("optimizer", "betas", "n_critic", "batch_size", "weight_clip", "lr_decay")


def image_cells(study: dict) -> dict[str, dict]:
    """cell id → cell settings (architecture, objective, α, learning rates, train settings)."""
    from gansweep.config import CONDITIONAL_ARCHITECTURES

    cells: dict[str, dict] = {}
    for grid in study["grids"]:
        objective = grid["objective"]
        arch = grid.get("architecture", study["architecture"])
        train = {k: v for k, v in study["train"].items() if k not in ("steps", "epochs")}
        overrides = {k: grid[k] for k in IMAGE_GRID_OVERRIDES if k in grid}
        train.update(overrides)
        if LOSSES[objective].uses_alpha:
            alphas = list(itertools.product(grid["alpha_d"], grid["alpha_g"]))
        else:
            alphas = [(None, None)]
        lrs = (
            [(lr, lr) for lr in grid["lr"]]
            if "lr" in grid
            else list(itertools.product(grid["lr_d"], grid["lr_g"]))
        )
        for (alpha_d, alpha_g), (lr_d, lr_g) in itertools.product(alphas, lrs):
            name = f"{arch}-{objective}"
            if alpha_d is not None:
                name += f"-ad{slug(alpha_d)}-ag{slug(alpha_g)}"
            name += f"-lr{slug(lr_d)}" + (f"-lrg{slug(lr_g)}" if lr_g != lr_d else "")
            if overrides:
                name += "-" + "-".join(
                    f"{k}{_override_slug(v)}" for k, v in sorted(overrides.items())
                )
            cells.setdefault(
                name,
                {
                    "cell": name,
                    "architecture": arch,
                    "objective": objective,
                    "alpha_d": alpha_d,
                    "alpha_g": alpha_g,
                    "lr_d": float(lr_d),
                    "lr_g": float(lr_g),
                    "n_classes": 10 if arch in CONDITIONAL_ARCHITECTURES else 0,
                    "train": train,
                },
            )
    return cells


def _override_slug(value) -> str:
    if isinstance(value, list):
        return "_".join(slug(v) for v in value)
    return slug(value) if isinstance(value, float) else str(value)


def n_image_jobs(study: dict) -> int:
    """cells × seed chunks, counted without enumerating them (an upper bound if grids overlap)."""
    cells = 0
    for grid in study["grids"]:
        alphas = (
            len(grid["alpha_d"]) * len(grid["alpha_g"])
            if LOSSES[grid["objective"]].uses_alpha
            else 1
        )
        lrs = len(grid["lr"]) if "lr" in grid else len(grid["lr_d"]) * len(grid["lr_g"])
        cells += alphas * lrs
    return cells * -(-n_seeds(study) // study["execution"]["seeds_per_job"])


def image_jobs(study_name: str, study: dict, data_dir: str) -> dict[tuple[str, str], dict]:
    """(cell id, job id) → job spec; a job trains ``seeds_per_job`` seeds of one cell."""
    seeds = study_seeds(study)
    per_job = study["execution"]["seeds_per_job"]
    length = {k: study["train"][k] for k in ("steps", "epochs") if k in study["train"]}
    jobs = {}
    for cell_id, cell in image_cells(study).items():
        for k in range(0, len(seeds), per_job):
            chunk = seeds[k : k + per_job]
            job_id = f"seed{chunk[0]}" if len(chunk) == 1 else f"seeds{chunk[0]}-{chunk[-1]}"
            jobs[cell_id, job_id] = {
                **cell,
                **length,
                "study": study_name,
                "job": job_id,
                "seeds": chunk,
                "dataset": study["dataset"],
                "data_dir": data_dir,
                "log_every": study["log"]["every"],
                "eval_seed": study["eval"]["seed"],
                "eval_every_epochs": study["eval"]["every_epochs"],
                "checkpoint_every": study["execution"]["checkpoint_every"],
                "execution": study["execution"],
                **_plugins(study),
            }
    return jobs
