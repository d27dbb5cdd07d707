"""Configuration: JSON-Schema validation with defaults, and errors that name the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable

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
    with open(path) as fh:
        return yaml.safe_load(fh)


PRESETS = REPO_SCHEMA.parents[2] / "presets"


def expand_includes(config: dict, presets: Path = PRESETS, _seen: tuple = ()) -> dict:
    """Merge the presets named in ``include`` into ``config`` (in place): their studies are
    added (a name defined twice is an error) and their other keys fill what is unset, at any depth."""
    for name in config.get("include", []):
        path = Path(name) if name.endswith((".yaml", ".yml")) else presets / f"{name}.yaml"
        if not path.exists():
            raise ConfigError(f"config key 'include': no preset {name!r} (looked for {path})")
        if path.resolve() in _seen:
            raise ConfigError(f"config key 'include': {path} includes itself")
        with open(path) as fh:
            included = expand_includes(yaml.safe_load(fh) or {}, presets, _seen + (path.resolve(),))
        for study, body in included.get("studies", {}).items():
            if study in config.setdefault("studies", {}):
                raise ConfigError(f"config key 'include': study {study!r} is defined twice ({path})")
            config["studies"][study] = body
        fill_unset(config, {k: v for k, v in included.items() if k not in ("studies", "include")})
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


def validate_config(config: dict, schema: dict | str | Path = REPO_SCHEMA) -> dict:
    """Validate ``config`` in place (filling defaults) and return it.

    Raises ConfigError naming the offending key and the allowed keys or values.
    """
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    expand_includes(config)
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
        _check_length(f"{key}.train", study["train"], PAPER_EPOCHS if toy else None)
        if not toy:
            _check_image_study(key, study)
    return config


TOY2D_DATASETS = ("ring", "grid")
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
            raise ConfigError(f"config key '{where}': give 'lr' (shared by D and G) or both 'lr_d' and 'lr_g'")
        arch = grid.get("architecture", study["architecture"])
        if arch in CONDITIONAL_ARCHITECTURES and study["dataset"] not in LABELLED_DATASETS:
            raise ConfigError(
                f"config key '{where}': architecture {arch!r} needs class labels; "
                f"datasets with labels: {', '.join(LABELLED_DATASETS)}"
            )
