# Validation, planning and target helpers shared by the rules (no rules here).
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The package is run from this workflow's own src/, never from an installed copy: Snakemake
# imports it from there, and every rule calls `python -m gansweep` with src/ on PYTHONPATH
# (set here, inherited by local, SLURM and conda jobs). So the same rules work in the venv,
# with `--sdm conda` (envs/gansweep.yaml holds the dependencies only) and in a container. Set
# in the environment rather than written into each command: a path in the command text would
# make Snakemake rerun every job (code changed) when the checkout moves.
SRC = str(Path(workflow.basedir) / "src")
if sys.path[0] != SRC:
    sys.path.insert(0, SRC)
_pythonpath = os.environ.get("PYTHONPATH", "")
if SRC not in _pythonpath.split(os.pathsep):
    os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, _pythonpath])))

from gansweep.config import TOY2D_DATASETS, ConfigError, validate_config
from gansweep.figures.registry import IMAGE_FIGURE_INPUTS
from gansweep.metrics.fid import FEATURE_EXTRACTORS
from gansweep.plan import image_jobs, ring_job_cost, ring_jobs

# Without --sdm conda/apptainer the rules' `python` is the one on PATH: it must have the
# dependencies (the activated venv). Checked by name only (no import: fast, once per call).
NEEDED_MODULES = ["torch", "torchvision", "pandas", "pytorch_fid"]
_deployment = {m.name for m in workflow.deployment_settings.deployment_method}
if not _deployment & {"CONDA", "APPTAINER"}:
    _python = shutil.which("python")
    _probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if not u.find_spec(m)])"
    _missing = (
        subprocess.run(
            [_python, "-c", _probe, *NEEDED_MODULES], capture_output=True, text=True
        ).stdout.split()
        if _python
        else ["python"]
    )
    if _missing:
        raise WorkflowError(
            f"the rules run `python -m gansweep`, but the `python` on PATH ({_python}) lacks "
            f"{', '.join(_missing)}: activate the project environment first "
            "(`. .venv/bin/activate`, see README) or run with `--sdm conda`"
        )

try:
    validate_config(
        config,
        Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
        # Re-read with a loader that rejects duplicated keys; `device: cuda` needs CUDA here
        # only when the jobs run here.
        config_files=workflow.configfiles,
        jobs_run_here=workflow.local_exec,
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
OPTIONAL_RING_FIGURES = {"rates_by_loss"}  # drawn when the study's figures: key asks
IMAGE_FIGURES = list(IMAGE_FIGURE_INPUTS)
OPTIONAL_FIGURES = {"fid_tv_logits_vs_lr": "fid_tv_logits"}  # figure → metric it needs
FID = config["fid"]


def one_of(names):
    """A wildcard pattern matching exactly these names (none: matches nothing)."""
    return "|".join(names) or "(?!)"


RING_STUDY = one_of(RING_STUDIES)
IMAGE_STUDY = one_of(IMAGE_STUDIES)


wildcard_constraints:
    study=one_of(STUDIES),
    job=r"[A-Za-z0-9_.+-]+",
    cell=r"[A-Za-z0-9_.+-]+",
    figure=one_of(RING_FIGURES + sorted(OPTIONAL_RING_FIGURES) + IMAGE_FIGURES),
    dataset="cifar10|celeba|lsun_classroom",
    metric="fid|fid_tv_logits",
    split="train|test",


def job_spec_json(wildcards):
    return json.dumps(JOBS[wildcards.study][wildcards.job], sort_keys=True)


def ring_job_priority(wildcards):
    """Costliest ring jobs first (their spec too, which a job waits for)."""
    return ring_job_cost(JOBS[wildcards.study][wildcards.job])


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
    # The success-rate figures mark cells that differ from the baseline (stats.smk).
    return [
        f"results/{wildcards.study}/summary.parquet",
        f"results/{wildcards.study}/comparisons.parquet",
    ]


def image_job_spec_json(wildcards):
    spec = IMAGE_JOBS[wildcards.study][wildcards.cell, wildcards.job]
    return json.dumps(spec, sort_keys=True)


def prepared_data(wildcards):
    return f"{DATA_DIR}/{STUDIES[wildcards.study]['dataset']}/prepared/meta.json"


# Config strings never reach a shell unquoted: option helpers return argument lists, one
# `--key=value` token per option (a value may start with "-"), and rules insert them with
# `{params.x:q}`, which shell-quotes each element.


def download_source(wildcards):
    """--url/--md5/--sha256/--n-images arguments from `downloads:` (offline mirrors, tests)."""
    source = config["downloads"].get(wildcards.dataset, {})
    return [f"--{k.replace('_', '-')}={v}" for k, v in sorted(source.items())]


def weights_file(metric):
    return f"{FID['weights_dir']}/{metric}/{FEATURE_EXTRACTORS[metric].file_name}"


def weights_option(metric):
    """--url / --sha256-prefix arguments from `fid.weights` (offline mirrors, stand-in weights)."""
    source = FID["weights"].get(metric, {})
    return [f"--{k.replace('_', '-')}={v}" for k, v in sorted(source.items())]


def metric_weights_file(wildcards):
    return weights_file(wildcards.metric)


def metric_weights_source(wildcards):
    return weights_option(wildcards.metric)


def metric_weights_check(wildcards):
    prefix = FID["weights"].get(wildcards.metric, {}).get("sha256_prefix")
    return [f"--sha256-prefix={prefix}"] if prefix else []


def reference_split(study, metric):
    # The authors' logit FID compares with the test split; the standard one is configurable.
    return (
        "test"
        if metric == "fid_tv_logits"
        else STUDIES[study]["eval"]["reference_split"]
    )


def evaluation_inputs(wildcards):
    study = STUDIES[wildcards.study]
    metrics = study["eval"]["metrics"]
    base = f"results/{wildcards.study}/runs/{wildcards.cell}/{wildcards.job}"
    return {
        "train": f"{base}/runs.parquet",
        "spec": f"results/{wildcards.study}/specs/{wildcards.cell}/{wildcards.job}.json",
        "references": [
            f"{DATA_DIR}/fid_stats/{m}/{study['dataset']}-{reference_split(wildcards.study, m)}.npz"
            for m in metrics
        ],
        "weights": [weights_file(m) for m in metrics],
    }


def evaluation_options(wildcards):
    metrics = STUDIES[wildcards.study]["eval"]["metrics"]
    inputs = evaluation_inputs(wildcards)
    pairs = zip(metrics, inputs["references"], inputs["weights"])
    options = [arg for m, ref, w in pairs for arg in ("--metric", m, ref, w)]
    for m in metrics:
        if "sha256_prefix" in FID["weights"].get(m, {}):
            options += ["--sha256-prefix", m, FID["weights"][m]["sha256_prefix"]]
    return options


def image_job_files(name):
    def get(wildcards):
        return [
            f"results/{wildcards.study}/runs/{cell}/{job}/{name}"
            for cell, job in IMAGE_JOBS[wildcards.study]
        ]

    return get


def image_figure_inputs(wildcards):
    needs = IMAGE_FIGURE_INPUTS[wildcards.figure]
    files = [f"results/{wildcards.study}/{n}.parquet" for n in needs if n != "images"]
    if "images" in needs:
        files += image_job_files("images.npz")(wildcards)
    return files


def all_targets():
    # Every study: its baseline comparisons and power table (stats.smk).
    targets = [
        f"results/{name}/{t}"
        for name in STUDIES
        for t in ("comparisons.csv", "power.csv")
    ]
    for name in IMAGE_STUDIES:
        targets += [
            f"results/{name}/{t}.parquet" for t in ("runs", "summary", "train_log")
        ]
        metrics = IMAGE_STUDIES[name]["eval"]["metrics"]
        figures = [
            f
            for f in IMAGE_FIGURES
            if f not in OPTIONAL_FIGURES or OPTIONAL_FIGURES[f] in metrics
        ]
        targets += expand(
            "results/{study}/figures/{figure}.{ext}",
            study=name,
            figure=figures,
            ext=["png", "pdf"],
        )
    for name, study in RING_STUDIES.items():
        targets += [f"results/{name}/runs.parquet", f"results/{name}/summary.parquet"]
        targets += expand(
            "results/{study}/figures/{figure}.{ext}",
            study=name,
            figure=RING_FIGURES
            + [f for f in sorted(OPTIONAL_RING_FIGURES) if study["figures"].get(f)],
            ext=["png", "pdf"],
        )
        if study["compare_paper"] and study["dataset"] == "ring":
            targets.append(f"results/{name}/paper_comparison.csv")
    return targets
