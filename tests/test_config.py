"""Config validation: defaults, unknown keys, bad values, and the planned grid."""

import copy

import pytest
import yaml

from conftest import REPO, tiny_study
from gansweep.config import ConfigError, load_schema, validate_config
from gansweep.losses import LOSSES
from gansweep.plan import eval_steps, ring_jobs, study_cells, study_seeds, total_steps


def check(study):
    return validate_config({"studies": {"s": copy.deepcopy(study)}})["studies"]["s"]


def test_defaults_are_the_paper_protocol():
    s = check({"dataset": "ring", "grids": [{"objective": "saturating"}]})
    assert s["model"] == {"g_hidden": 4, "g_width": 400, "d_hidden": 4, "d_width": 200}
    assert s["train"]["epochs"] == 400 and s["train"]["batch_size"] == 128
    assert s["train"]["betas"] == [0.9, 0.999]
    assert s["data"] == {"n_train": 50000, "n_test": 25000, "data_seed": 1, "fresh_noise": False}
    assert s["grids"][0]["lr"] == [1e-4]
    assert total_steps(s) == 400 * 391


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.update(datset="ring"), "unknown config key 'studies.s.datset'; allowed keys here: compare_paper, data"),
        (lambda s: s["train"].update(lr=1), "unknown config key 'studies.s.train.lr'"),
        (lambda s: s.update(dataset="moons"), "config key 'studies.s.dataset': 'moons' is not allowed; allowed values: ring, grid"),
        (
            lambda s: s["grids"][0].update(objective="minimax"),
            "config key 'studies.s.grids.0.objective': 'minimax' is not allowed; allowed values: saturating, non_saturating",
        ),
        (lambda s: s["grids"][0].update(alpha_d=[0.0]), "config key 'studies.s.grids.0.alpha_d.0': 0.0 is less than or equal"),
        (lambda s: s.update(seeds="many"), "config key 'studies.s.seeds': 'many' is invalid: A count n"),
        (lambda s: s["execution"].update(device="tpu"), "allowed values: auto, cpu, cuda"),
        (lambda s: s["train"].update(epochs=3), "give exactly one of 'steps' or 'epochs'"),
    ],
)
def test_bad_config_names_the_key_and_what_is_allowed(mutate, message):
    study = tiny_study()
    mutate(study)
    with pytest.raises(ConfigError) as err:
        check(study)
    assert message in str(err.value)


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match="unknown config key 'stuides'; allowed keys here: data_dir, downloads, fid, include, studies"):
        validate_config({"stuides": {}})


def test_schema_objectives_are_the_loss_registry():
    schema = load_schema()
    assert sorted(schema["$defs"]["grid"]["properties"]["objective"]["enum"]) == LOSSES.names()


def test_cells_seeds_jobs_and_eval_steps():
    raw = tiny_study(
            grids=[
                {"objective": "saturating", "alpha_d": [0.5, 1.0], "alpha_g": [1.0]},
                {"objective": "saturating", "alpha_d": [1.0], "alpha_g": [1.0, 1.1]},  # (1, 1) again
                {"objective": "lsgan", "alpha_d": [0.3], "lr": [1e-4, 2e-4]},  # α ignored
            ],
            seeds=[3, 5, 7],
            execution={"seeds_per_job": 4},
            eval={"every": 2},
        )
    raw["train"] = {"epochs": 3}
    study = check(raw)
    cells = study_cells(study)
    assert [(c.objective, c.alpha_d, c.alpha_g, c.lr) for c in cells] == [
        ("saturating", 0.5, 1.0, 1e-4),
        ("saturating", 1.0, 1.0, 1e-4),
        ("saturating", 1.0, 1.1, 1e-4),
        ("lsgan", None, None, 1e-4),
        ("lsgan", None, None, 2e-4),
    ]
    assert study_seeds(study) == [3, 5, 7]
    jobs = ring_jobs("s", study)
    assert {k: len(v["runs"]) for k, v in jobs.items()} == {
        "saturating-lr0.0001-000": 4,
        "saturating-lr0.0001-001": 4,
        "saturating-lr0.0001-002": 1,
        "lsgan-lr0.0001-000": 3,
        "lsgan-lr0.0002-000": 3,
    }
    all_runs = [(r["alpha_d"], r["alpha_g"], r["seed"]) for j in jobs.values() if j["objective"] == "saturating" for r in j["runs"]]
    assert len(all_runs) == len(set(all_runs)) == 9
    assert eval_steps(study) == [16, 24]  # every 2 epochs of 8 steps, and the end


@pytest.mark.parametrize("path", ["config.yaml", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "presets").rglob("*.yaml"))])
def test_shipped_configs_are_valid(path):
    config = validate_config(yaml.safe_load((REPO / path).read_text()))
    assert config["studies"]


def test_paper_all_includes_every_study_once():
    config = validate_config(yaml.safe_load((REPO / "presets/paper_all.yaml").read_text()))
    assert set(config["studies"]) == {
        "ring_paper_saturating", "ring_paper_non_saturating", "cifar10_losses", "cifar10_losses_100k",
        "cifar10_stability", "celeba_alpha", "lsun_alpha",
    }  # fmt: skip
    with pytest.raises(ConfigError, match="defined twice"):
        validate_config({"include": ["ring_paper", "ring_paper"]})
    with pytest.raises(ConfigError, match="no preset 'nope'"):
        validate_config({"include": ["nope"]})


def test_includes_fill_unset_keys_at_any_depth():
    """A second config file setting fid.weights (the smoke sources) keeps the include's fid.device."""
    weights = {"fid": {"url": "file:///w/fid.pth", "sha256_prefix": "0123456789abcdef"}}
    config = validate_config({"include": ["smoke/paper_all"], "fid": {"weights": weights}})
    assert config["fid"]["weights"]["fid"]["url"] == "file:///w/fid.pth"
    assert config["fid"]["weights_dir"] == "resources/smoke/weights"
    assert (config["fid"]["device"], config["fid"]["threads"], config["fid"]["resources"]["gpu"]) == ("cpu", 1, 0)
    assert config["data_dir"] == "resources/smoke/data"
