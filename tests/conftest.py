import copy
from pathlib import Path

import pytest
import torch

from gansweep.config import validate_config
from gansweep.plan import ring_jobs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_registries(monkeypatch):
    """Plugins (a config's `plugins:`) register into process-wide registries: undo that after
    every test, so a config validated in one test never adds names another test sees."""
    from gansweep import plugins
    from gansweep.data import DATASETS
    from gansweep.losses import LOSSES
    from gansweep.models import MODELS
    from gansweep.penalties import PENALTIES

    registries = (LOSSES, MODELS, DATASETS, PENALTIES)
    saved = [(r, dict(r._items), dict(r._origins)) for r in registries]
    monkeypatch.setattr(plugins, "_LOADED", {})
    yield
    for registry, items, origins in saved:
        registry._items, registry._origins = items, origins


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
def float64_default():
    """Closed-form comparisons in float64, without leaking the setting into other modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture
def tiny_job():
    return single_job(tiny_study())
