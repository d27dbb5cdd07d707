import copy
from pathlib import Path

import pytest

from gansweep.config import validate_config
from gansweep.plan import ring_jobs

REPO = Path(__file__).resolve().parents[1]


def tiny_study(**overrides) -> dict:
    """A small ring study: 1,000 train points, batch 128 → 8 steps an epoch, the last of 104."""
    study = {
        "dataset": "ring",
        "grids": [{"objective": "saturating", "alpha_d": [0.3, 1.0], "alpha_g": [1.0, 1.2]}],
        "seeds": 2,
        "data": {"n_train": 1000, "n_test": 500},
        "model": {"g_hidden": 2, "g_width": 16, "d_hidden": 2, "d_width": 8},
        "train": {"steps": 20},
        "eval": {"every": 10},
        "execution": {"seeds_per_job": 64, "dtype": "float64", "log_every": 5},
        "figures": {"scatter_seeds": 1, "scatter_samples": 50},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(study.get(key), dict):
            study[key] = {**study[key], **value}
        else:
            study[key] = value
    return study


def single_job(study: dict, name: str = "t") -> dict:
    config = validate_config({"studies": {name: copy.deepcopy(study)}})
    jobs = ring_jobs(name, config["studies"][name])
    assert len(jobs) == 1, list(jobs)
    return next(iter(jobs.values()))


@pytest.fixture
def tiny_job():
    return single_job(tiny_study())
