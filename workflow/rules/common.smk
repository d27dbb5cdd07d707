# Validation, planning and target helpers shared by the rules (no rules here).
import json
import shutil
from pathlib import Path

from gansweep.config import TOY2D_DATASETS, ConfigError, validate_config
from gansweep.plan import image_jobs, ring_jobs

# Rules call the `gansweep` command: it must be on PATH (the activated venv), unless each
# rule's conda environment provides it.
_conda = "CONDA" in {m.name for m in workflow.deployment_settings.deployment_method}
if shutil.which("gansweep") is None and not _conda:
    raise WorkflowError(
        "the `gansweep` command is not on PATH: activate the environment first "
        "(`. .venv/bin/activate`, see README) or run with `--sdm conda`"
    )

try:
    validate_config(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

STUDIES = config["studies"]
DATA_DIR = config["data_dir"]
RING_STUDIES = {n: s for n, s in STUDIES.items() if s["dataset"] in TOY2D_DATASETS}
IMAGE_STUDIES = {n: s for n, s in STUDIES.items() if n not in RING_STUDIES}
JOBS = {name: ring_jobs(name, study) for name, study in RING_STUDIES.items()}
IMAGE_JOBS = {name: image_jobs(name, s, DATA_DIR) for name, s in IMAGE_STUDIES.items()}
RING_FIGURES = [
    "rates_vs_alpha_d",
    "heat_tables",
    "coverage_over_training",
    "sample_scatter",
]


wildcard_constraints:
    study="|".join(STUDIES),
    job=r"[A-Za-z0-9_.+-]+",
    cell=r"[A-Za-z0-9_.+-]+",
    figure="|".join(RING_FIGURES),
    dataset="cifar10|celeba|lsun_classroom",


def job_spec_json(wildcards):
    return json.dumps(JOBS[wildcards.study][wildcards.job], sort_keys=True)


def study_setting(*keys):
    """A per-study config value (``keys`` is its path), as a function of the wildcards."""

    def get(wildcards, attempt=1):
        value = STUDIES[wildcards.study]
        for key in keys:
            value = value[key]
        return value

    return get


def train_mem_mb(wildcards, attempt):
    """The configured memory, doubled on each retry (profile `retries`)."""
    return STUDIES[wildcards.study]["resources"]["mem_mb"] * 2 ** (attempt - 1)


def study_job_tables(kind):
    def get(wildcards):
        return expand(
            "results/{study}/{kind}/{job}.parquet",
            study=wildcards.study,
            kind=kind,
            job=JOBS[wildcards.study],
        )

    return get


def figure_tables(wildcards):
    if wildcards.figure == "sample_scatter":
        return study_job_tables("samples")(wildcards)
    if wildcards.figure == "coverage_over_training":
        return f"results/{wildcards.study}/runs.parquet"
    return f"results/{wildcards.study}/summary.parquet"


def image_job_spec_json(wildcards):
    spec = IMAGE_JOBS[wildcards.study][wildcards.cell, wildcards.job]
    return json.dumps(spec, sort_keys=True)


def image_job_tables(wildcards):
    return [
        f"results/{wildcards.study}/runs/{cell}/{job}/runs.parquet"
        for cell, job in IMAGE_JOBS[wildcards.study]
    ]


def prepared_data(wildcards):
    return f"{DATA_DIR}/{STUDIES[wildcards.study]['dataset']}/prepared/meta.json"


def download_source(wildcards):
    """--url/--md5/--sha256 options from `downloads:` (offline mirrors, tests)."""
    source = config["downloads"].get(wildcards.dataset, {})
    return " ".join(f"--{key} {value}" for key, value in sorted(source.items()))


def all_targets():
    targets = []
    for name in IMAGE_STUDIES:
        targets += [
            f"results/{name}/train_log.parquet",
            f"results/{name}/train_runs.parquet",
        ]
    for name, study in RING_STUDIES.items():
        targets += [f"results/{name}/runs.parquet", f"results/{name}/summary.parquet"]
        targets += expand(
            "results/{study}/figures/{figure}.{ext}",
            study=name,
            figure=RING_FIGURES,
            ext=["png", "pdf"],
        )
        if study["compare_paper"] and study["dataset"] == "ring":
            targets.append(f"results/{name}/paper_comparison.csv")
    return targets
