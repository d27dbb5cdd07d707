"""Planning: ids are injective over every value that defines a run; the README's preset sizes."""

import copy
import math
import re

import numpy as np
import pytest
import yaml
from conftest import REPO, tiny_study

from gansweep.config import validate_config
from gansweep.plan import (
    image_cells,
    image_jobs,
    ring_job_cost,
    ring_jobs,
    slug,
    study_cells,
    study_seeds,
)

WILDCARD = re.compile(r"[A-Za-z0-9_.+-]+")  # workflow/rules/common.smk's job / cell constraint


def check(study):
    return validate_config({"studies": {"s": copy.deepcopy(study)}})["studies"]["s"]


def test_slug_reads_back_exactly_and_stays_readable():
    assert [slug(v) for v in (1e-4, 2e-4, 0.3, 1.0, 1, float("inf"), 5e-5)] == [
        "0.0001",
        "0.0002",
        "0.3",
        "1",
        "1",
        "inf",
        "5e-05",
    ]
    assert slug(1.0000001e-4) == "0.00010000001" and slug(0.1 + 0.2) == "0.30000000000000004"
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [10.0 ** rng.uniform(-12, 12, 2000), np.nextafter(1e-4, [0, 1]), [math.pi, 1e300, 5e-324]]
    )
    for v in map(float, values):
        text = slug(v)
        assert float(text) == v and WILDCARD.fullmatch(text), (v, text)
    assert len({slug(float(v)) for v in values}) == len(set(map(float, values)))


def test_ring_jobs_never_merge_close_learning_rates_or_alphas():
    study = check(
        tiny_study(
            grids=[
                {
                    "objective": "saturating",
                    "alpha_d": [0.3, 0.1 + 0.2],
                    "alpha_g": [1.0],
                    "lr": [1e-4, 1.0000001e-4],
                }
            ],
            seeds=3,
        )
    )
    jobs = ring_jobs("s", study)
    assert sorted(jobs) == ["saturating-lr0.0001-000", "saturating-lr0.00010000001-000"]
    assert {j["lr"] for j in jobs.values()} == {1e-4, 1.0000001e-4}
    runs = [(j["lr"], r["alpha_d"], r["seed"]) for j in jobs.values() for r in j["runs"]]
    assert len(runs) == len(set(runs)) == 2 * 2 * 3  # every (lr, αD, seed) is trained, once
    labels = [c.label() for c in study_cells(study)]
    assert (
        len(set(labels)) == 4 and "saturating (0.30000000000000004, 1) lr=0.00010000001" in labels
    )


@pytest.mark.parametrize(
    "key, value, near",
    [
        ("lr", [1e-4], [1.0000001e-4]),
        ("lr_g", [1e-4], [1.0000001e-4]),
        ("alpha_d", [0.3], [0.1 + 0.2]),
        ("alpha_g", [1.0], [1 + 1e-15]),
        ("weight_clip", 0.01, 0.01 + 1e-12),
        ("betas", [0.5, 0.999], [0.5, 0.999 + 1e-13]),
    ],
)
def test_image_cells_never_merge_values_that_print_alike(key, value, near):
    base = {"objective": "non_saturating", "alpha_d": [1.0], "alpha_g": [1.0]}
    base.update({"lr_d": [2e-4], "lr_g": [2e-4]} if key == "lr_g" else {"lr": [2e-4]})
    grids = [{**base, key: value}, {**base, key: near}]
    study = check(
        {"dataset": "cifar10", "architecture": "dcgan32", "train": {"steps": 2}, "grids": grids}
    )
    cells = image_cells(study)
    assert len(cells) == 2, list(cells)  # the old `:g` ids kept only the first
    field = "lr_d" if key == "lr" else key
    got = [c[field] if field in c else c["train"][field] for c in cells.values()]
    single = key.startswith(("lr", "alpha"))  # grid lists of one value vs a per-grid setting
    assert got == [value[0], near[0]] if single else got == [value, near]
    assert all(WILDCARD.fullmatch(cell) for cell in cells)
    assert len(image_jobs("s", study, "data")) == 2 * 3  # 3 seeds each


def test_normal_values_keep_their_readable_ids():
    study = check(
        {
            "dataset": "cifar10",
            "architecture": "dcgan32",
            "train": {"steps": 2},
            "seeds": 1,
            "grids": [
                {"objective": "non_saturating", "alpha_d": [0.5], "alpha_g": [1.0], "lr": [2e-4]},
                {"objective": "wgan", "lr": [5e-5], "weight_clip": 0.01, "n_critic": 5},
            ],
        }
    )
    assert list(image_cells(study)) == [
        "dcgan32-non_saturating-ad0.5-ag1-lr0.0002",
        "dcgan32-wgan-lr5e-05-n_critic5-weight_clip0.01",
    ]
    assert list(ring_jobs("s", check(tiny_study()))) == ["saturating-lr0.0001-000"]


def ring_paper_plan():
    config = validate_config(yaml.safe_load((REPO / "presets/ring_paper.yaml").read_text()))
    studies = config["studies"].values()
    runs = sum(len(study_cells(s)) * len(study_seeds(s)) for s in studies)
    cells = sum(len(study_cells(s)) for s in studies)
    jobs = sum(len(ring_jobs(n, s)) for n, s in config["studies"].items())
    return runs, cells, jobs


def test_the_documented_size_of_the_ring_paper_preset_is_the_plan():
    runs, cells, jobs = ring_paper_plan()
    assert (runs, cells, jobs) == (15_200, 76, 26)
    readme = (REPO / "README.md").read_text()
    assert f"| {runs:,} runs ({cells} cells × 200 seeds) in {jobs} GPU jobs |" in readme
    assert f"({runs:,} runs) is {jobs} SLURM jobs" in (REPO / "docs/cluster.md").read_text()
    assert (
        f"{runs:,} runs in {jobs} SLURM jobs" in (REPO / "profiles/slurm/config.yaml").read_text()
    )
    assert f"{runs:,} runs" in (REPO / "presets/ring_paper.yaml").read_text()
    for text in (
        readme,
        (REPO / "profiles/slurm/config.yaml").read_text(),
        (REPO / "presets/ring_paper.yaml").read_text(),
    ):
        assert "8,000 runs" not in text


def test_ring_job_cost_ranks_jobs_by_their_work():
    """The workflow starts the costliest ring jobs first (priority = ring_job_cost)."""
    study = check(
        tiny_study(
            grids=[
                {"objective": "hinge"},
                {"objective": "wgan_gp"},
                {"objective": "saturating", "alpha_d": [0.5, 1.0], "alpha_g": [1.0]},
            ],
            seeds=4,
            execution={"seeds_per_job": 4},
        )
    )

    def costs(s):
        return {
            job_id.split("-")[0] + job_id[-1]: ring_job_cost(spec)
            for job_id, spec in ring_jobs("s", s).items()
        }

    cost = costs(study)
    assert cost["saturating0"] == cost["saturating1"] == cost["hinge0"]  # same runs and steps
    assert cost["wgan_gp0"] > cost["hinge0"]  # a gradient-penalty pass on top
    r1r2 = check({**study, "train": {**study["train"], "r1_gamma": 1.0, "r2_gamma": 1.0}})
    assert costs(r1r2)["hinge0"] > cost["wgan_gp0"]  # two penalty passes
    longer = check({**study, "train": {**study["train"], "steps": study["train"]["steps"] * 3}})
    assert costs(longer)["hinge0"] == 3 * cost["hinge0"]
    wider = check({**study, "model": {**study["model"], "g_width": 2 * study["model"]["g_width"]}})
    assert costs(wider)["hinge0"] > cost["hinge0"]
