"""Configuration: JSON-Schema validation with defaults, and errors that name the key."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
PAPER_EPOCHS = 400


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and what is allowed."""


def _with_defaults(validator_class):
    """A validator that fills ``default:`` values in before checking an object."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        where = f"{key}." if error.absolute_path else ""
        return f"unknown config key '{where}{extra[0]}'; allowed keys here: {allowed}"
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"config key '{key}': {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "oneOf" and "description" in schema:
        return f"config key '{key}': {error.instance!r} is invalid: {schema['description']}"
    return f"config key '{key}': {error.message}"


def load_schema(path: str | Path = REPO_SCHEMA) -> dict:
    """The schema with every registry-backed list filled from the registries (see ``x-registry``)."""
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    _fill_registry_enums(schema)
    return schema


def registry_names() -> dict[str, list[str]]:
    """Registry-backed schema values, in registration order: the single source of truth."""
    from gansweep.data import DATASETS
    from gansweep.losses import LOSSES
    from gansweep.metrics.fid import FEATURE_EXTRACTORS
    from gansweep.models import MODELS

    datasets = DATASETS.in_order()
    images = [n for n in datasets if getattr(DATASETS[n], "kind", None) == "image"]
    return {
        "losses": LOSSES.in_order(),
        "architectures": [n for n in MODELS.in_order() if n not in RING_MODELS],
        "datasets": datasets,
        "datasets_2d": [n for n in datasets if n not in images],
        "datasets_image": images,
        "fid_metrics": FEATURE_EXTRACTORS.in_order(),
    }


RING_MODELS = ("mlp",)  # the 2D studies' stacked MLP; every other model is an image architecture


def _fill_registry_enums(node: Any, names: dict | None = None) -> None:
    """``x-registry: R`` → ``enum`` = R's names; ``x-registry-keys: R`` → one property per name,
    each the node's ``x-registry-value`` schema (e.g. one `downloads` entry per image dataset)."""
    names = registry_names() if names is None else names
    if isinstance(node, dict):
        if "x-registry" in node:
            node["enum"] = list(names[node["x-registry"]])
        if "x-registry-keys" in node:
            value = node["x-registry-value"]
            node["properties"] = {n: copy.deepcopy(value) for n in names[node["x-registry-keys"]]}
        for child in node.values():
            _fill_registry_enums(child, names)
    elif isinstance(node, list):
        for child in node:
            _fill_registry_enums(child, names)


# ---- strict YAML: a key given twice in one mapping is an error, not "the last one wins" -----
class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(
                    f"{key_node.start_mark.name}, line {key_node.start_mark.line + 1}: config key "
                    f"{key!r} appears twice in one mapping (line {seen[key] + 1} too); YAML would "
                    f"silently keep only the last one: remove one of them"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_config_file(path: str | Path) -> Any:
    """Read a YAML (or JSON) config file, rejecting duplicated keys."""
    try:
        with open(path) as fh:
            return yaml.load(fh, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path}: not valid YAML: {err}") from None


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Re-read the files Snakemake loaded (its own loader keeps the last of duplicated keys)."""
    for path in paths:
        load_config_file(path)


PRESETS = REPO_SCHEMA.parents[2] / "presets"


def expand_includes(config: dict, presets: Path = PRESETS, _seen: tuple = ()) -> dict:
    """Merge the presets named in ``include`` into ``config`` (in place): their studies are
    added (a name defined twice is an error), their plugins are added to this config's, and
    their other keys fill what is unset, at any depth."""
    for name in config.get("include", []):
        path = Path(name) if name.endswith((".yaml", ".yml")) else presets / f"{name}.yaml"
        if not path.exists():
            raise ConfigError(f"config key 'include': no preset {name!r} (looked for {path})")
        if path.resolve() in _seen:
            raise ConfigError(f"config key 'include': {path} includes itself")
        included = load_config_file(path)
        if included is None:
            included = {}
        if not isinstance(included, dict):
            raise ConfigError(
                f"config key 'include': {path} holds a {type(included).__name__}, not a mapping of "
                f"config keys (studies:, data_dir:, ...)"
            )
        included = expand_includes(included, presets, _seen + (path.resolve(),))
        for study, body in included.get("studies", {}).items():
            if study in config.setdefault("studies", {}):
                raise ConfigError(
                    f"config key 'include': study {study!r} is defined twice ({path})"
                )
            config["studies"][study] = body
        plugins = config.setdefault("plugins", [])
        plugins += [p for p in included.get("plugins", []) if p not in plugins]
        fill_unset(
            config,
            {k: v for k, v in included.items() if k not in ("studies", "include", "plugins")},
        )
    config["include"] = []
    return config


def fill_unset(config: dict, defaults: dict) -> None:
    """Copy into ``config`` every key of ``defaults`` it lacks, at any depth: a config that sets
    ``fid.weights`` (say, from a second ``--configfile``) still gets an include's ``fid.device``."""
    for key, value in defaults.items():
        if key not in config:
            config[key] = copy.deepcopy(value)
        elif isinstance(config[key], dict) and isinstance(value, dict):
            fill_unset(config[key], value)


STUDY_NAME = re.compile(r"[A-Za-z0-9_]+")


def validate_config(
    config: dict,
    schema: dict | str | Path = REPO_SCHEMA,
    config_files: Iterable[str | Path] = (),
    jobs_run_here: bool = True,
) -> dict:
    """Validate ``config`` in place (filling defaults) and return it.

    ``config_files`` are the files the config was read from (checked for duplicated keys);
    ``jobs_run_here`` is False when a scheduler runs the jobs elsewhere (then a CUDA device is
    not required of this machine). Raises ConfigError naming the offending key and the allowed
    keys or values.
    """
    check_config_files(config_files)
    expand_includes(config)
    _check_study_names(config)
    asked_features = _studies_setting_feature_metrics(config)
    _load_config_plugins(config)
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    else:
        schema = copy.deepcopy(schema)
        _fill_registry_enums(schema)
    validator_class = jsonschema.validators.validator_for(schema)
    validator = _with_defaults(validator_class)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        # A wrong `dataset` also fails the other study kind's schema; report the cause.
        wrong_kind = [e for e in errors if list(e.absolute_path)[-1:] == ["dataset"]]
        best = wrong_kind[0] if wrong_kind else jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best))
    for name, study in config["studies"].items():
        key = f"studies.{name}"
        toy = study["dataset"] in TOY2D_DATASETS
        _check_numbers(key, study)
        _check_length(f"{key}.train", study["train"], PAPER_EPOCHS if toy else None)
        if not toy:
            _check_image_study(key, study)
            _check_feature_metrics(key, study, name in asked_features)
        study["plugins"] = config["plugins"] + [
            p for p in study["plugins"] if p not in config["plugins"]
        ]
    _check_plan_size(config)
    _check_devices(config, jobs_run_here)
    _check_smoke_sources(config)
    return config


def _studies_setting_feature_metrics(config: dict) -> set:
    """Studies whose config sets ``eval.feature_metrics`` itself (before defaults are filled)."""
    studies = config.get("studies")
    return {
        name
        for name, study in (studies.items() if isinstance(studies, dict) else ())
        if isinstance(study, dict)
        and isinstance(study.get("eval"), dict)
        and study["eval"].get("feature_metrics")
    }


def _check_feature_metrics(key: str, study: dict, asked: bool) -> None:
    # PRDC and KID reuse the standard FID pass's Inception features: without `fid` there are
    # none. The default [prdc] then quietly does nothing; a value the user wrote must not.
    if asked and "fid" not in study["eval"]["metrics"]:
        raise ConfigError(
            f"config key '{key}.eval.feature_metrics': {study['eval']['feature_metrics']} need the "
            f"standard FID's Inception features: add 'fid' to '{key}.eval.metrics' or remove the key"
        )


def _check_study_names(config: dict) -> None:
    # The schema's pattern uses `$`, which Python's re lets match before a final newline.
    studies = config.get("studies")
    for name in studies if isinstance(studies, dict) else ():
        if not isinstance(name, str) or not STUDY_NAME.fullmatch(name):
            raise ConfigError(
                f"config key 'studies': study name {name!r} is not allowed: use one line of letters, "
                f"digits and '_' (it names the results folder and is passed on command lines)"
            )


def _load_config_plugins(config: dict) -> None:
    """Import the plugin files (top level and per study) before the schema is filled from the
    registries, so the names they register are allowed; store their absolute paths."""
    from gansweep.plugins import PluginError, load_plugins

    where = [("plugins", config)]
    studies = config.get("studies")
    if isinstance(studies, dict):
        where += [(f"studies.{n}.plugins", s) for n, s in studies.items() if isinstance(s, dict)]
    for key, holder in where:
        paths = holder.get("plugins", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(
                f"config key '{key}': give a list of Python file paths, got {paths!r}"
            )
        try:
            holder["plugins"] = load_plugins(paths)
        except PluginError as err:
            raise ConfigError(f"config key '{key}': {err}") from None


MAX_SEED = 2**63 - 1  # seeds are stored as int64 in the run tables


def _check_numbers(key: str, study: dict) -> None:
    """What the schema cannot say: learning rates finite, α not NaN (α = ∞ is the paper's αD = ∞),
    seeds within int64."""
    for i, grid in enumerate(study["grids"]):
        for name in ("lr", "lr_d", "lr_g"):
            for j, lr in enumerate(grid.get(name, [])):
                if not math.isfinite(lr):
                    raise ConfigError(
                        f"config key '{key}.grids.{i}.{name}.{j}': learning rate {lr} "
                        f"is not allowed; give a finite number > 0"
                    )
        for name in ("alpha_d", "alpha_g"):
            for j, alpha in enumerate(grid.get(name, [])):
                if math.isnan(alpha):
                    raise ConfigError(
                        f"config key '{key}.grids.{i}.{name}.{j}': α is NaN; give a "
                        f"number > 0 or .inf (α = ∞)"
                    )
    seeds = study["seeds"]
    for j, seed in enumerate([seeds] if isinstance(seeds, int) else seeds):
        if seed > MAX_SEED:
            where = f"{key}.seeds" + ("" if isinstance(seeds, int) else f".{j}")
            raise ConfigError(
                f"config key '{where}': {seed} is beyond the largest seed, "
                f"2**63 - 1 = {MAX_SEED} (seeds are int64 in the tables)"
            )


# Planning is a pure function of the config and must stay well under a second (measured: about
# 0.6 s for 10^6 ring runs or 10^5 image jobs on a 2-core CPU); these bounds keep it there.
MAX_RING_RUNS = 500_000  # cells × seeds over all 2D studies
MAX_IMAGE_JOBS = 50_000  # cells × seed chunks over all image studies
MAX_CHECKPOINTS = 10_000  # evaluated checkpoints per 2D run


def _check_plan_size(config: dict) -> None:
    from gansweep.plan import n_checkpoints, n_image_jobs, n_ring_runs

    ring_runs = image_jobs = 0
    for name, study in config["studies"].items():
        if study["dataset"] in TOY2D_DATASETS:
            checkpoints = n_checkpoints(study)
            if checkpoints > MAX_CHECKPOINTS:
                unit = "steps" if "steps" in study["train"] else "epochs"
                raise ConfigError(
                    f"config key 'studies.{name}.eval.every': {checkpoints:,} evaluated checkpoints per run "
                    f"(every {study['eval']['every']} of {unit}); at most {MAX_CHECKPOINTS:,} are allowed, "
                    f"so that planning takes under a second: raise eval.every or lower train.{unit}"
                )
            ring_runs += n_ring_runs(study)
        else:
            image_jobs += n_image_jobs(study)
    for count, bound, what in (
        (ring_runs, MAX_RING_RUNS, "2D runs (cells × seeds)"),
        (image_jobs, MAX_IMAGE_JOBS, "image training jobs (cells × seed chunks)"),
    ):
        if count > bound:
            raise ConfigError(
                f"config key 'studies': {count:,} {what}; at most {bound:,} are allowed, so that "
                f"planning takes under a second: fewer seeds or grid values, or split the config"
            )


def _check_devices(config: dict, jobs_run_here: bool) -> None:
    """`device: cuda` needs CUDA on the machine that runs the job; checked here, not mid-job."""
    keys = []
    if jobs_run_here:
        keys = [
            f"studies.{n}.execution.device"
            for n, s in config["studies"].items()
            if s["execution"]["device"] == "cuda"
        ]
    fid = config["fid"]
    images = any(s["dataset"] not in TOY2D_DATASETS for s in config["studies"].values())
    if fid["device"] == "cuda" and images and (jobs_run_here or fid["reference_stats_local"]):
        keys.append("fid.device")
    if not keys:
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(
            f"config key '{keys[0]}': 'cuda' is set but this machine has no usable CUDA device "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False); use 'auto' (a GPU "
            f"when there is one) or 'cpu', or run where a GPU is"
        )


SMOKE_SOURCES_HELP = (
    "run `gansweep smoke-sources resources/smoke` first and pass the file it writes as a second "
    "config file: snakemake --configfile <smoke preset> resources/smoke/sources.yaml"
)


def _check_smoke_sources(config: dict) -> None:
    """A smoke config runs on tiny fixtures: never let it fetch the real data or weights."""
    if not config["smoke"]:
        return
    missing = []
    for study in config["studies"].values():
        if study["dataset"] in TOY2D_DATASETS:
            continue
        if "url" not in config["downloads"].get(study["dataset"], {}):
            missing.append(f"downloads.{study['dataset']}")
        missing += [
            f"fid.weights.{m}"
            for m in study["eval"]["metrics"]
            if "url" not in config["fid"]["weights"].get(m, {})
        ]
    if missing:
        missing = list(dict.fromkeys(missing))
        raise ConfigError(
            f"config key '{missing[0]}': this is a smoke config (smoke: true) but no smoke source is "
            f"set for {', '.join(missing)}, so it would download the real data sets and Inception "
            f"weights; {SMOKE_SOURCES_HELP}"
        )


TOY2D_DATASETS = tuple(registry_names()["datasets_2d"])
LABELLED_DATASETS = ("cifar10",)
CONDITIONAL_ARCHITECTURES = ("acgan32",)


def _check_length(key: str, train: dict, default_epochs: int | None) -> None:
    if "steps" in train and "epochs" in train:
        raise ConfigError(f"config key '{key}': give exactly one of 'steps' or 'epochs', not both")
    if "steps" not in train and "epochs" not in train:
        if default_epochs is None:
            raise ConfigError(f"config key '{key}': give one of 'steps' or 'epochs'")
        train["epochs"] = default_epochs


def _check_image_study(key: str, study: dict) -> None:
    for i, grid in enumerate(study["grids"]):
        where = f"{key}.grids.{i}"
        has_pair = "lr_d" in grid or "lr_g" in grid
        if ("lr" in grid) == has_pair or (has_pair and not ("lr_d" in grid and "lr_g" in grid)):
            raise ConfigError(
                f"config key '{where}': give 'lr' (shared by D and G) or both 'lr_d' and 'lr_g'"
            )
        arch = grid.get("architecture", study["architecture"])
        if arch in CONDITIONAL_ARCHITECTURES and study["dataset"] not in LABELLED_DATASETS:
            raise ConfigError(
                f"config key '{where}': architecture {arch!r} needs class labels; "
                f"datasets with labels: {', '.join(LABELLED_DATASETS)}"
            )
