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
        (
            lambda s: s.update(datset="ring"),
            "unknown config key 'studies.s.datset'; allowed keys here: ",
        ),
        (lambda s: s["train"].update(lr=1), "unknown config key 'studies.s.train.lr'"),
        (
            lambda s: s.update(dataset="moons"),
            "config key 'studies.s.dataset': 'moons' is not allowed; allowed values: ring, grid",
        ),
        (
            lambda s: s["grids"][0].update(objective="minimax"),
            "config key 'studies.s.grids.0.objective': 'minimax' is not allowed; allowed values: saturating, non_saturating",
        ),
        (
            lambda s: s["grids"][0].update(alpha_d=[0.0]),
            "config key 'studies.s.grids.0.alpha_d.0': 0.0 is less than or equal",
        ),
        (
            lambda s: s.update(seeds="many"),
            "config key 'studies.s.seeds': 'many' is invalid: A count n",
        ),
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
    with pytest.raises(
        ConfigError,
        match="unknown config key 'stuides'; allowed keys here: data_dir, downloads, fid, include, plugins, smoke, studies",
    ):
        validate_config({"stuides": {}})


def test_schema_allowed_values_are_the_registries():
    from gansweep.data import DATASETS
    from gansweep.metrics.fid import FEATURE_EXTRACTORS
    from gansweep.models import MODELS

    schema, defs = load_schema(), load_schema()["$defs"]
    assert defs["grid"]["properties"]["objective"]["enum"] == LOSSES.in_order()
    assert defs["image_grid"]["properties"]["objective"]["enum"] == LOSSES.in_order()
    assert defs["architecture"]["enum"] == [n for n in MODELS.in_order() if n != "mlp"]
    assert defs["study"]["properties"]["dataset"]["enum"] == DATASETS.in_order()
    assert set(defs["toy2d_study"]["properties"]["dataset"]["enum"]) == {"ring", "grid"}
    assert set(defs["image_study"]["properties"]["dataset"]["enum"]) == {
        "cifar10",
        "celeba",
        "lsun_classroom",
    }
    assert (
        defs["image_study"]["properties"]["eval"]["properties"]["metrics"]["items"]["enum"]
        == FEATURE_EXTRACTORS.in_order()
    )
    assert set(schema["properties"]["downloads"]["properties"]) == {
        "cifar10",
        "celeba",
        "lsun_classroom",
    }
    assert (
        list(schema["properties"]["fid"]["properties"]["weights"]["properties"])
        == FEATURE_EXTRACTORS.in_order()
    )
    # The schema file itself holds no copy of a registry's names (one source of truth).
    text = (REPO / "workflow/schemas/config.schema.yaml").read_text()
    assert (
        "enum: [saturating" not in text and "enum: [dcgan" not in text and "enum: [ring" not in text
    )


def test_every_registered_loss_trains_in_a_config_and_nothing_else_is_accepted():
    for name in LOSSES.in_order():
        check(tiny_study(grids=[{"objective": name}]))
    with pytest.raises(
        ConfigError,
        match="'minimax' is not allowed; allowed values: " + ", ".join(LOSSES.in_order()),
    ):
        check(tiny_study(grids=[{"objective": "minimax"}]))


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
    all_runs = [
        (r["alpha_d"], r["alpha_g"], r["seed"])
        for j in jobs.values()
        if j["objective"] == "saturating"
        for r in j["runs"]
    ]
    assert len(all_runs) == len(set(all_runs)) == 9
    assert eval_steps(study) == [16, 24]  # every 2 epochs of 8 steps, and the end


# What `gansweep smoke-sources` writes (the paths need not exist to validate).
SMOKE_SOURCES = {
    "downloads": {
        d: {"url": f"file:///smoke/{d}.zip"} for d in ("cifar10", "celeba", "lsun_classroom")
    },
    "fid": {
        "weights": {
            m: {"url": f"file:///smoke/{m}.pth", "sha256_prefix": "0123456789abcdef"}
            for m in ("fid", "fid_tv_logits")
        }
    },
}


def with_sources(config: dict) -> dict:
    """The sources file as a second --configfile: its keys win (Snakemake merges it last)."""
    from gansweep.config import fill_unset

    merged = copy.deepcopy(SMOKE_SOURCES)
    fill_unset(merged, config)
    return merged


SHIPPED_CONFIGS = [
    "config.yaml",
    *sorted(
        p.relative_to(REPO).as_posix()
        for d in ("presets", "docs")
        for p in (REPO / d).rglob("*.yaml")
    ),
]


@pytest.mark.parametrize("path", SHIPPED_CONFIGS)
def test_shipped_configs_are_valid(path, monkeypatch):
    monkeypatch.chdir(REPO)  # plugin paths are relative to where snakemake runs
    raw = yaml.safe_load((REPO / path).read_text())
    config = validate_config(with_sources(raw) if path.startswith("presets/smoke/") else raw)
    assert config["studies"]


def test_paper_all_includes_every_study_once():
    config = validate_config(yaml.safe_load((REPO / "presets/paper_all.yaml").read_text()))
    assert set(config["studies"]) == {
        "ring_paper_saturating",
        "ring_paper_non_saturating",
        "cifar10_losses",
        "cifar10_losses_100k",
        "cifar10_stability",
        "celeba_alpha",
        "lsun_alpha",
    }
    with pytest.raises(ConfigError, match="defined twice"):
        validate_config({"include": ["ring_paper", "ring_paper"]})
    with pytest.raises(ConfigError, match="no preset 'nope'"):
        validate_config({"include": ["nope"]})


def test_includes_fill_unset_keys_at_any_depth():
    """A second config file setting fid.weights (the smoke sources) keeps the include's fid.device."""
    config = validate_config(with_sources({"include": ["smoke/paper_all"]}))
    assert config["fid"]["weights"]["fid"]["url"] == "file:///smoke/fid.pth"
    assert config["fid"]["weights_dir"] == "resources/smoke/weights"
    assert (
        config["fid"]["device"],
        config["fid"]["threads"],
        config["fid"]["resources"]["gpu"],
    ) == ("cpu", 1, 0)
    assert config["data_dir"] == "resources/smoke/data"


# ---- validation holes (issue 9): each a ConfigError naming the key ----------------------------
def image_study(**grid):
    return {
        "dataset": "cifar10",
        "architecture": "dcgan32",
        "train": {"steps": 2},
        "grids": [{"objective": "hinge", **(grid or {"lr": [1e-4]})}],
    }


@pytest.mark.parametrize("name", ["abc\n", "a b", "../up", "x;rm", "", "ünï"])
def test_study_name_is_one_line_of_safe_characters(name):
    with pytest.raises(
        ConfigError, match="config key 'studies': study name .* is not allowed: use one line"
    ):
        validate_config({"studies": {name: tiny_study()}})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1e-4])
@pytest.mark.parametrize(
    "kind, key", [("ring", "lr"), ("image", "lr"), ("image", "lr_d"), ("image", "lr_g")]
)
def test_learning_rates_must_be_finite_and_positive(kind, key, bad):
    grid = (
        {"lr": [1e-4, bad]} if key == "lr" else {"lr_d": [1e-4], "lr_g": [1e-4], key: [1e-4, bad]}
    )
    study = (
        tiny_study(grids=[{"objective": "saturating", **grid}])
        if kind == "ring"
        else image_study(**grid)
    )
    with pytest.raises(ConfigError, match=rf"config key 'studies\.s\.grids\.0\.{key}\.1': "):
        check(study)


def test_alpha_nan_is_rejected_and_yaml_inf_is_alpha_infinity():
    with pytest.raises(
        ConfigError, match=r"config key 'studies\.s\.grids\.0\.alpha_g\.0': α is NaN"
    ):
        check(tiny_study(grids=[{"objective": "saturating", "alpha_g": [float("nan")]}]))
    grids = yaml.safe_load("[{objective: non_saturating, alpha_d: [.inf, 1.0], alpha_g: [.inf]}]")
    cells = study_cells(check(tiny_study(grids=grids)))
    assert [(c.alpha_d, c.alpha_g) for c in cells] == [
        (float("inf"), float("inf")),
        (1.0, float("inf")),
    ]


def test_seeds_beyond_int64_are_rejected():
    big = 2**63
    with pytest.raises(
        ConfigError,
        match=r"config key 'studies\.s\.seeds\.1': 9223372036854775808 is beyond the largest seed, 2\*\*63 - 1",
    ):
        check(tiny_study(seeds=[1, big]))
    assert study_seeds(check(tiny_study(seeds=[big - 1]))) == [big - 1]
    with pytest.raises(
        ConfigError, match=r"config key 'studies\.s\.seeds': 9223372036854775808 is beyond"
    ):
        check(tiny_study(seeds=big))
    with pytest.raises(
        ConfigError,
        match=r"studies\.s\.data\.data_seed': 9223372036854775808 is greater than the maximum",
    ):
        check(tiny_study(data={"data_seed": big}))


def test_plans_that_would_take_over_a_second_are_refused_quickly():
    import time

    from gansweep.config import MAX_CHECKPOINTS, MAX_IMAGE_JOBS, MAX_RING_RUNS

    start = time.perf_counter()
    with pytest.raises(
        ConfigError,
        match=rf"config key 'studies\.s\.eval\.every': 1,000,000,000,000 evaluated checkpoints per run .* at most {MAX_CHECKPOINTS:,} .* under a second",
    ):
        check(tiny_study(train={"steps": 10**12}, eval={"every": 1}))
    with pytest.raises(
        ConfigError,
        match=rf"config key 'studies': 18,446,744,073,709,551,616 2D runs .* at most {MAX_RING_RUNS:,}",
    ):
        check(tiny_study(seeds=2**62))  # 4 cells × 2**62 seeds
    with pytest.raises(
        ConfigError,
        match=rf"config key 'studies': 100,000,000 image training jobs .* at most {MAX_IMAGE_JOBS:,}",
    ):
        check({**image_study(), "seeds": 10**8})
    assert time.perf_counter() - start < 1.0  # counted, never enumerated
    # At the bounds, planning itself stays under a second (measured ~0.3 s on 2 cores).
    study = check(tiny_study(train={"steps": 10_000}, eval={"every": 1}))
    assert len(eval_steps(study)) == MAX_CHECKPOINTS


def test_duplicated_yaml_keys_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "studies:\n  a: {dataset: ring, grids: [{objective: hinge}]}\n  a: {dataset: grid, grids: [{objective: lsgan}]}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"c\.yaml, line 3: config key 'a' appears twice in one mapping \(line 2 too\)",
    ):
        validate_config(yaml.safe_load(path.read_text()), config_files=[path])
    nested = tmp_path / "n.yaml"
    nested.write_text(
        "studies:\n  a:\n    dataset: ring\n    seeds: 3\n    seeds: 5\n    grids: [{objective: hinge}]\n"
    )
    with pytest.raises(ConfigError, match=r"n\.yaml, line 5: config key 'seeds' appears twice"):
        validate_config({"include": [str(nested)]})  # includes are read strictly too


def test_include_of_a_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- ring_paper\n- cifar10_losses\n")
    with pytest.raises(
        ConfigError, match=r"config key 'include': .*list\.yaml holds a list, not a mapping"
    ):
        validate_config({"include": [str(path)]})


def test_cuda_device_is_checked_when_validating_on_the_machine_that_runs_the_jobs(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cuda = tiny_study(execution={"device": "cuda"})
    with pytest.raises(
        ConfigError,
        match=r"config key 'studies\.s\.execution\.device': 'cuda' is set but this machine has no usable CUDA",
    ):
        check(cuda)
    # A scheduler runs the jobs on GPU nodes: the login node needs no CUDA ...
    validate_config({"studies": {"s": copy.deepcopy(cuda)}}, jobs_run_here=False)
    # ... except for reference statistics, computed locally by default.
    with pytest.raises(ConfigError, match=r"config key 'fid\.device'"):
        validate_config(
            {"studies": {"s": image_study()}, "fid": {"device": "cuda"}}, jobs_run_here=False
        )
    check(tiny_study(execution={"device": "auto"}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check(cuda)


@pytest.mark.parametrize(
    "preset",
    [
        "smoke/paper_all",
        "smoke/cifar10_losses",
        "smoke/celeba_alpha",
        "smoke/lsun_alpha",
        "smoke/cifar10_stability",
    ],
)
def test_smoke_presets_never_fetch_the_real_data(preset):
    with pytest.raises(
        ConfigError,
        match=r"smoke config \(smoke: true\).*run `gansweep smoke-sources resources/smoke` first.*resources/smoke/sources\.yaml",
    ):
        validate_config({"include": [preset]})
    partial = with_sources({"include": [preset]})
    del partial["fid"]["weights"]["fid"]
    with pytest.raises(
        ConfigError, match=r"config key 'fid\.weights\.fid': this is a smoke config"
    ):
        validate_config(partial)
    assert validate_config(with_sources({"include": [preset]}))["smoke"] is True


def test_the_2d_smoke_preset_needs_no_sources_and_real_presets_are_not_smoke():
    assert validate_config({"include": ["smoke/ring_paper"]})["smoke"] is True
    assert validate_config({"include": ["cifar10_losses"]})["smoke"] is False


def test_feature_metrics_without_the_fid_features_are_refused_when_asked_for():
    study = image_study()
    study["eval"] = {"metrics": ["fid_tv_logits"], "feature_metrics": ["kid"]}
    with pytest.raises(
        ConfigError,
        match=r"config key 'studies\.s\.eval\.feature_metrics': \['kid'\] need the standard FID",
    ):
        check(study)
    study["eval"] = {"metrics": ["fid_tv_logits"]}  # the default [prdc] is simply not applicable
    assert check(study)["eval"]["feature_metrics"] == ["prdc"]
    study["eval"] = {"metrics": ["fid", "fid_tv_logits"], "feature_metrics": ["kid"]}
    assert check(study)["eval"]["feature_metrics"] == ["kid"]
