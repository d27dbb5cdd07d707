"""Cluster execution through SLURM: the profiles, and end-to-end runs on a real SLURM.

* ``test_slurm_profile_dry_run_*`` (fast, always run): a dry run of the paper preset with
  profiles/slurm shows what each rule asks the cluster for; no SLURM needed.
* The tests marked ``slurm`` run the smoke config on a real SLURM (tests/ci/start_slurm.sh
  starts a single-node one with a fake GPU) through ``--profile profiles/slurm
  --workflow-profile profiles/ci-slurm``, and the same config locally, and compare. They are
  skipped unless ``GANSWEEP_SLURM_TESTS=1`` and ``sinfo`` works; .ci/slurm_test.sh sets
  ``GANSWEEP_SLURM_REQUIRED=1`` as well, which turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from gansweep.config import validate_config
from gansweep.plan import ring_jobs

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SMOKE = REPO / "tests/config/ring_smoke.yaml"
PAPER = REPO / "presets/ring_paper.yaml"
SLURM_PROFILE = REPO / "profiles/slurm"
CI_PROFILE = REPO / "profiles/ci-slurm"
STUDY = "ring_smoke"

# Per-run columns that say where and how fast a job ran, not what it computed.
METADATA = ["wall_time_s", "host", "slurm_job_id", "cuda_visible_devices", "device", "threads"]
FIGURES = ["rates_vs_alpha_d", "heat_tables", "coverage_over_training", "sample_scatter"]
# The site settings of tests/ci/start_slurm.sh's cluster, passed as on a real site: its
# partition, GPU model, node feature and reservation; a QOS (accepted unchecked without an
# accounting database) and one free sbatch flag, to check that both reach sbatch.
CI_SITE = {
    "GANSWEEP_SLURM_PARTITION": "debug",
    "GANSWEEP_GPU_MODEL": "fake",
    "GANSWEEP_SLURM_CONSTRAINT": "gansweep_ci",
    "GANSWEEP_SLURM_RESERVATION": "gansweep_ci",
    "GANSWEEP_SLURM_QOS": "normal",
    "GANSWEEP_SLURM_EXTRA": "--nice=7",
}
SITE_VARS = [
    "GANSWEEP_SLURM_PARTITION",
    "GANSWEEP_SLURM_GPU_PARTITION",
    "GANSWEEP_SLURM_ACCOUNT",
    "GANSWEEP_GPU_MODEL",
    "GANSWEEP_SLURM_JOBS",
    "GANSWEEP_SLURM_QOS",
    "GANSWEEP_SLURM_CONSTRAINT",
    "GANSWEEP_SLURM_GPU_CONSTRAINT",
    "GANSWEEP_SLURM_RESERVATION",
    "GANSWEEP_SLURM_EXTRA",
]
RUN_TIMEOUT_S = 600
# The cluster profile, with the local test cluster's overlay on top.
ON_CI_SLURM = ["--profile", SLURM_PROFILE, "--workflow-profile", CI_PROFILE]
DRY_RUN = ["-n", "--workflow-profile", SLURM_PROFILE]


# ---- helpers ------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict:
    """The test's environment without scheduler, GPU and site variables, with the gansweep
    command (beside this Python) first on PATH, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))
        and k not in ("CUDA_VISIBLE_DEVICES", "SNAKEMAKE_PROFILE", *SITE_VARS)
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def snakemake(workdir: Path, *args, env: dict, timeout_s: int = RUN_TIMEOUT_S):
    """Run snakemake on the repo's Snakefile in ``workdir``; returns the CompletedProcess.

    Under ``timeout -s INT``: the SLURM executor ignores SIGTERM, and on SIGINT it cancels
    its SLURM jobs before it exits.
    """
    cmd = ["timeout", "-s", "INT", "-k", "30", str(timeout_s), sys.executable, "-m", "snakemake"]
    cmd += ["-s", str(SNAKEFILE), "-d", str(workdir), *map(str, args)]
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s + 60
    )


def show(proc, n: int = 6000) -> str:
    out = proc.stdout + proc.stderr
    return f"exit {proc.returncode}; last output:\n{out[-n:]}"


def smoke_jobs() -> dict[str, dict]:
    import yaml

    config = validate_config(yaml.safe_load(SMOKE.read_text()))
    return ring_jobs(STUDY, config["studies"][STUDY])


def dry_run_blocks(text: str) -> list[dict]:
    """The jobs of a dry run's output: rule name, wildcards and resources of each."""
    blocks = []
    for chunk in re.split(r"\n(?=\s*(?:local)?(?:rule|checkpoint) \w+:\n)", text):
        head = re.match(r"\s*(?:local)?(?:rule|checkpoint) (\w+):\n", chunk)
        if not head:
            continue
        res = re.search(r"^\s*resources: (.*)$", chunk, re.M)
        wc = re.search(r"^\s*wildcards: (.*)$", chunk, re.M)
        blocks.append(
            {
                "rule": head.group(1),
                "resources": (
                    dict(kv.split("=", 1) for kv in res.group(1).split(", ")) if res else {}
                ),
                "wildcards": dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {},
            }
        )
    return blocks


def sinfo_works() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def slurm_available():
    if os.environ.get("GANSWEEP_SLURM_TESTS") != "1":
        pytest.skip("set GANSWEEP_SLURM_TESTS=1 (and start SLURM: tests/ci/start_slurm.sh)")
    if not sinfo_works():
        msg = "GANSWEEP_SLURM_TESTS=1 but `sinfo` does not work: is SLURM running?"
        if os.environ.get("GANSWEEP_SLURM_REQUIRED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


def run_uuid(proc) -> str:
    m = re.search(r"SLURM run ID: (\S+)", proc.stdout + proc.stderr)
    assert m, "no 'SLURM run ID' in the output: " + show(proc)
    return m.group(1)


def slurm_jobs_of_run(uuid: str) -> list[dict]:
    """Every SLURM job of one Snakemake run (the plugin names them by the run's UUID; squeue
    still lists finished jobs for MinJobAge), with `scontrol show job` fields."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", uuid, "--format=%i"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return [scontrol_job(i) for i in out.split()]


def scontrol_job(job_id: str) -> dict:
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", str(job_id)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    fields = {}
    for token in out.split():
        key, _, value = token.partition("=")
        fields.setdefault(key, value)
    return fields


def read_tables(workdir: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(workdir / "results" / STUDY / f"{name}.parquet")


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in METADATA if c in df.columns]).reset_index(drop=True)


def gpu_requested(job: dict) -> bool:
    tres = " ".join(job.get(k, "") for k in ("TresPerJob", "TresPerNode", "TRES", "AllocTRES"))
    return re.search(r"gres[:/]gpu(:\w+)?[:=]1\b", tres) is not None


# ---- no SLURM needed: the cluster profile's dry run ---------------------------------------


def test_slurm_profile_dry_run_paper_preset(tmp_path):
    """The paper preset through profiles/slurm: train_ring asks for 1 GPU (of the site's model,
    in the GPU partition) and the preset's runtime and memory; figures are CPU jobs."""
    import yaml

    site = {
        "GANSWEEP_SLURM_PARTITION": "cpu_dummy",
        "GANSWEEP_SLURM_GPU_PARTITION": "gpu_dummy",
        "GANSWEEP_SLURM_ACCOUNT": "acct_dummy",
        "GANSWEEP_GPU_MODEL": "a100",
        "GANSWEEP_SLURM_QOS": "qos_dummy",
        "GANSWEEP_SLURM_CONSTRAINT": "cpu_feature&ib",
        "GANSWEEP_SLURM_GPU_CONSTRAINT": "a100_80gb",
        "GANSWEEP_SLURM_EXTRA": "--mail-type=FAIL --nice=10",
    }
    proc = snakemake(
        tmp_path / "wd", *DRY_RUN, "--configfile", PAPER, env=clean_env(**site), timeout_s=120
    )
    assert proc.returncode == 0, show(proc)
    out = proc.stdout + proc.stderr
    assert f"Using workflow specific profile {SLURM_PROFILE}" in out

    preset = validate_config(yaml.safe_load(PAPER.read_text()))["studies"]
    blocks = dry_run_blocks(out)
    train = [b for b in blocks if b["rule"] == "train_ring"]
    assert len(train) == sum(len(ring_jobs(n, s)) for n, s in preset.items()) == 26
    for b in train:
        res, study = b["resources"], preset[b["wildcards"]["study"]]
        assert res["gpu"] == "1", b
        assert res["gpu_model"] == "a100", b
        assert res["slurm_partition"] == "gpu_dummy", b
        assert res["slurm_account"] == "acct_dummy", b
        assert res["qos"] == "qos_dummy" and res["constraint"] == "a100_80gb", b
        assert res["slurm_extra"] == "--mail-type=FAIL --nice=10", b
        assert res["runtime"] == str(study["resources"]["runtime"]) == "480", b
        assert res["mem_mb"] == str(study["resources"]["mem_mb"]) == "16000", b
    figures = [b for b in blocks if b["rule"] == "ring_figure"]
    assert len(figures) == 4 * len(preset)
    for b in figures:
        assert "gpu" not in b["resources"] and "gpu_model" not in b["resources"], b
        assert b["resources"]["slurm_partition"] == "cpu_dummy", b
        assert b["resources"]["constraint"] == "cpu_feature&ib", b  # the CPU jobs' features
        assert b["resources"]["qos"] == "qos_dummy", b
    assert {b["rule"] for b in blocks} >= {"job_spec", "aggregate_ring", "compare_paper"}


IMAGE_PRESET = REPO / "presets/cifar10_losses.yaml"
GPU_RULES = {"train_ring", "train_image", "evaluate_image", "reference_stats"}


@pytest.mark.skipif(not IMAGE_PRESET.exists(), reason="no image preset")
def test_slurm_profile_dry_run_image_preset(tmp_path):
    """Image studies: training, FID evaluation and reference statistics ask for 1 GPU in the
    GPU partition; training keeps the study's runtime and memory."""
    import yaml

    site = {
        "GANSWEEP_SLURM_PARTITION": "cpu_dummy",
        "GANSWEEP_SLURM_GPU_PARTITION": "gpu_dummy",
        "GANSWEEP_GPU_MODEL": "h100",
    }
    proc = snakemake(
        tmp_path / "wd",
        *DRY_RUN,
        "--configfile",
        IMAGE_PRESET,
        env=clean_env(**site),
        timeout_s=120,
    )
    assert proc.returncode == 0, show(proc)
    studies = validate_config(yaml.safe_load(IMAGE_PRESET.read_text()))["studies"]
    blocks = dry_run_blocks(proc.stdout + proc.stderr)
    assert any(b["rule"] == "train_image" for b in blocks)
    for b in blocks:
        res = b["resources"]
        if b["rule"] in GPU_RULES:
            assert res.get("gpu") == "1" and res.get("gpu_model") == "h100", b
            assert res.get("slurm_partition") == "gpu_dummy", b
        else:
            assert "gpu" not in res and "gpu_model" not in res, b
        if b["rule"] == "train_image":
            study = studies[b["wildcards"]["study"]]
            assert res["runtime"] == str(study["resources"]["runtime"]), b
            assert res["mem_mb"] == str(study["resources"]["mem_mb"]), b


def test_slurm_profile_dry_run_without_site_settings(tmp_path):
    """No site variables set: nothing site-specific reaches the jobs, the GPU request stays."""
    proc = snakemake(
        tmp_path / "wd", *DRY_RUN, "--configfile", SMOKE, env=clean_env(), timeout_s=120
    )
    assert proc.returncode == 0, show(proc)
    out = proc.stdout + proc.stderr
    assert "$GANSWEEP" not in out
    train = [b for b in dry_run_blocks(out) if b["rule"] == "train_ring"]
    assert len(train) == len(smoke_jobs())
    for b in train:
        # the smoke study says gpu: 0 (laptops); the cluster profile asks for one anyway
        assert b["resources"]["gpu"] == "1", b
        assert b["resources"]["runtime"] == "10" and b["resources"]["mem_mb"] == "1000", b
        for key in (
            "gpu_model",
            "slurm_partition",
            "slurm_account",
            "qos",
            "constraint",
            "slurm_extra",
        ):
            assert key not in b["resources"], b


def read_profile(**site: str) -> dict:
    """profiles/slurm/config.yaml as Snakemake reads it, with these site variables set."""
    import yte

    saved = {k: os.environ.pop(k) for k in SITE_VARS if k in os.environ}
    os.environ.update(site)
    try:
        with open(SLURM_PROFILE / "config.yaml") as f:
            return yte.process_yaml(f, require_use_yte=True)
    finally:
        for k in site:
            del os.environ[k]
        os.environ.update(saved)


def test_slurm_profile_reservation_is_an_executor_setting():
    """sbatch --reservation comes from the plugin's setting, only when the variable is set."""
    assert "slurm-reservation" not in read_profile()
    assert read_profile(GANSWEEP_SLURM_RESERVATION="maint_42")["slurm-reservation"] == "maint_42"


def test_slurm_profile_settings_and_local_rules(tmp_path):
    """The profile's failure handling, and which rules run on the login node (a dry run
    does not print local/remote, so ask Snakemake's API)."""
    profile = read_profile()
    assert profile["executor"] == "slurm"
    assert profile["retries"] == 1  # resubmits with attempt=2: twice the memory
    assert profile["keep-going"] is True and profile["rerun-incomplete"] is True
    assert "mem_mb" not in profile["set-resources"]["train_ring"]  # keep the attempt scaling

    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from snakemake.api import SnakemakeApi
        from snakemake.settings.types import (ConfigSettings, OutputSettings,
                                              ResourceSettings, StorageSettings)
        with SnakemakeApi(OutputSettings(quiet={{"all"}})) as api:
            wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                              config_settings=ConfigSettings(configfiles=[Path({str(PAPER)!r})]),
                              storage_settings=StorageSettings(),
                              snakefile=Path({str(SNAKEFILE)!r}), workdir=Path({str(tmp_path)!r}))
            w = wf._workflow
            print(json.dumps({{r.name: r.name in w._localrules for r in w.rules}}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, show(proc)
    local = json.loads(proc.stdout.strip().splitlines()[-1])
    assert local["job_spec"] and local["aggregate_ring"] and local["compare_paper"]
    assert not local["train_ring"] and not local["ring_figure"]
    # compute nodes need no internet: whatever downloads runs on the login node
    downloads = [r for r in local if r.startswith(("download", "fetch"))]
    assert all(local[r] for r in downloads), {r: local[r] for r in downloads}
    for rule in ("image_job_spec", "aggregate_image_training", "aggregate_image"):
        assert local.get(rule, True), rule
    for rule in ("train_image", "evaluate_image"):
        assert not local.get(rule, False), rule
    # every rule the profile gives a GPU to exists (a renamed rule would silently lose it)
    assert set(profile["set-resources"]) <= set(local), set(profile["set-resources"]) - set(local)


# ---- real SLURM ---------------------------------------------------------------------------


def sbatch_shim(directory: Path) -> tuple[Path, Path]:
    """An `sbatch` that records its arguments (one JSON list a line) and runs the real one;
    returns (its folder, to put first on PATH; the record)."""
    real, log = shutil.which("sbatch"), directory / "sbatch_calls.jsonl"
    shim = directory / "shim" / "sbatch"
    shim.parent.mkdir()
    shim.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    shim.chmod(0o755)
    return shim.parent, log


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """The smoke config run locally and on SLURM (same threads: execution.threads = 1)."""
    slurm_available()
    base = tmp_path_factory.mktemp("slurm_smoke")
    local_dir, slurm_dir = base / "local", base / "slurm"
    shim_dir, sbatch_log = sbatch_shim(base)

    # The SLURM run mostly waits for the scheduler: run the local one meanwhile.
    with ThreadPoolExecutor(1) as pool:
        env = clean_env(**CI_SITE)
        env["PATH"] = os.pathsep.join([str(shim_dir), env["PATH"]])
        pending = pool.submit(snakemake, slurm_dir, *ON_CI_SLURM, "--configfile", SMOKE, env=env)
        local = snakemake(local_dir, "--configfile", SMOKE, "--cores", "2", env=clean_env())
        slurm = pending.result()
    (base / "local_run.log").write_text(local.stdout + local.stderr)
    (base / "slurm_run.log").write_text(slurm.stdout + slurm.stderr)
    assert local.returncode == 0, "local run failed: " + show(local)
    assert slurm.returncode == 0, "SLURM run failed: " + show(slurm)
    return {
        "local": local_dir,
        "slurm": slurm_dir,
        "proc": slurm,
        "uuid": run_uuid(slurm),
        "sbatch_calls": [json.loads(line) for line in sbatch_log.read_text().splitlines()],
    }


@pytest.mark.slurm
@pytest.mark.slow
def test_training_jobs_ran_as_slurm_jobs(smoke_runs):
    jobs = smoke_jobs()
    slurm_ids = set()
    for job in jobs:
        path = Path("results", STUDY, "jobs", f"{job}.parquet")
        on_slurm = pd.read_parquet(smoke_runs["slurm"] / path).astype({"slurm_job_id": str})
        local = pd.read_parquet(smoke_runs["local"] / path).astype({"slurm_job_id": str})
        assert (on_slurm["slurm_job_id"].str.len() > 0).all(), on_slurm["slurm_job_id"]
        assert (local["slurm_job_id"] == "").all(), local["slurm_job_id"]
        # SLURM granted the (fake) GPU: it sets CUDA_VISIBLE_DEVICES; torch still uses the CPU
        assert (on_slurm["cuda_visible_devices"].astype(str).str.len() > 0).all()
        assert (local["cuda_visible_devices"].astype(str) == "").all()
        assert on_slurm["slurm_job_id"].nunique() == 1
        slurm_ids.add(on_slurm["slurm_job_id"].iloc[0])
    assert len(slurm_ids) == len(jobs)  # one SLURM job per training job

    for job_id in slurm_ids:
        info = scontrol_job(job_id)
        assert info["JobName"] == smoke_runs["uuid"], info
        assert info["JobState"] == "COMPLETED", info
        assert info["Comment"].startswith("rule_train_ring_wildcards_ring_smoke_"), info


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_jobs_requested_gpu_time_and_memory(smoke_runs):
    """What SLURM was asked for: the training jobs 1 GPU, the study's runtime (10 min) and
    mem_mb (1000), threads as CPUs, in the site partition; only remote rules were submitted."""
    submitted = slurm_jobs_of_run(smoke_runs["uuid"])
    by_rule: dict[str, list[dict]] = {}
    for job in submitted:
        rule = re.match(r"rule_(train_ring|ring_figure)_wildcards_", job["Comment"])
        assert rule, f"a rule that should stay local was submitted: {job['Comment']}"
        by_rule.setdefault(rule.group(1), []).append(job)
    assert len(by_rule["train_ring"]) == len(smoke_jobs())
    assert len(by_rule["ring_figure"]) == len(FIGURES)

    for job in by_rule["train_ring"]:
        assert gpu_requested(job), job
        assert "gpu:fake" in job["TresPerJob"], job  # GANSWEEP_GPU_MODEL -> --gpus=fake:1
        assert job["TimeLimit"] == "00:10:00", job
        assert job["MinMemoryNode"] == "1000M", job
        assert job["NumCPUs"] == "1", job  # execution.threads
        assert job["Partition"] == "debug", job
        assert job["JobState"] == "COMPLETED", job
        assert Path(job["StdOut"]).is_file(), job  # SLURM log kept (ci-slurm profile)
    for job in by_rule["ring_figure"]:
        assert not gpu_requested(job), job
        assert job["TimeLimit"] == "00:30:00" and job["MinMemoryNode"] == "4000M", job
        assert job["JobState"] == "COMPLETED", job


@pytest.mark.slurm
@pytest.mark.slow
def test_sbatch_received_the_site_settings(smoke_runs):
    """QOS, node constraint, reservation and the free flags (GANSWEEP_SLURM_*) reach every
    sbatch call, and SLURM applied those it can show (features, reservation, nice)."""
    calls = smoke_runs["sbatch_calls"]
    assert len(calls) == len(smoke_jobs()) + len(FIGURES), calls
    for argv in calls:
        args = " ".join(argv)
        assert "--qos=normal" in args and "-C gansweep_ci" in args, argv
        assert "--reservation=gansweep_ci" in args and "--nice=7" in args, argv
    for job in slurm_jobs_of_run(smoke_runs["uuid"]):
        assert job["Features"] == "gansweep_ci", job
        assert job["Reservation"] == "gansweep_ci", job
        assert job["Nice"] == "7", job


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_tables_equal_local_tables(smoke_runs):
    for name in ["runs", "summary"]:
        local = read_tables(smoke_runs["local"], name)
        slurm = read_tables(smoke_runs["slurm"], name)
        assert len(local) > 0
        assert_frame_equal(comparable(slurm), comparable(local), check_exact=True)
    for job in smoke_jobs():
        for kind in ["jobs", "samples"]:
            path = Path("results", STUDY, kind, f"{job}.parquet")
            assert_frame_equal(
                comparable(pd.read_parquet(smoke_runs["slurm"] / path)),
                comparable(pd.read_parquet(smoke_runs["local"] / path)),
                check_exact=True,
            )


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_run_made_figures(smoke_runs):
    for figure in FIGURES:
        for ext in ["png", "pdf"]:
            path = smoke_runs["slurm"] / "results" / STUDY / "figures" / f"{figure}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
    assert (smoke_runs["slurm"] / "results" / STUDY / "paper_comparison.csv").is_file()


@pytest.mark.slurm
@pytest.mark.slow
def test_failed_slurm_job_is_reported_retried_and_rerun(tmp_path):
    """One training job fails on SLURM (its spec is made unreadable): it is reported as failed,
    resubmitted once with twice the memory, the other training job still runs
    (keep-going), and a rerun builds only what is missing."""
    slurm_available()
    jobs = list(smoke_jobs())
    bad, good = jobs[-1], jobs[0]
    workdir = tmp_path / "wd"
    spec = workdir / "results" / STUDY / "specs" / f"{bad}.json"
    spec.parent.mkdir(parents=True)
    spec.write_text("{this is not json")  # job_spec has no inputs: the file is kept as is
    target = f"results/{STUDY}/runs.parquet"
    args = [*ON_CI_SLURM, "--configfile", SMOKE]

    first = snakemake(workdir, target, *args, env=clean_env(**CI_SITE))
    (tmp_path / "first.log").write_text(first.stdout + first.stderr)
    out = first.stdout + first.stderr
    assert first.returncode != 0, show(first)
    assert "Error in rule train_ring" in out, show(first)
    assert re.search(r"SLURM status is: '?FAILED", out), show(first)
    assert (workdir / "results" / STUDY / "jobs" / f"{good}.parquet").is_file()  # keep-going
    assert not (workdir / "results" / STUDY / "jobs" / f"{bad}.parquet").exists()

    attempts = [j for j in slurm_jobs_of_run(run_uuid(first)) if j["Comment"].endswith(bad)]
    assert sorted(j["MinMemoryNode"] for j in attempts) == ["1000M", "2000M"], attempts
    assert all(j["JobState"] == "FAILED" for j in attempts), attempts

    spec.unlink()  # fix the cause; the rerun makes only what is missing
    second = snakemake(workdir, target, *args, env=clean_env(**CI_SITE))
    (tmp_path / "second.log").write_text(second.stdout + second.stderr)
    assert second.returncode == 0, show(second)
    submitted = slurm_jobs_of_run(run_uuid(second))
    assert len(submitted) == 1 and submitted[0]["Comment"].endswith(f"_{bad}"), submitted
    assert (workdir / target).is_file()
