"""The Snakemake workflow: lint, format, dry-runs, bad config, and the smoke study end to end."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
SMOKE = REPO / "tests/config/ring_smoke.yaml"


def snakemake(*args, cwd, timeout=900):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_lint_and_format_are_clean():
    lint = subprocess.run(
        [str(BIN / "snakemake"), "--lint"], cwd=REPO, env=ENV, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    for ruff in (["check"], ["format", "--check"]):
        out = subprocess.run(
            [str(BIN / "ruff"), *ruff, "src", "tests", "benchmarks"],
            cwd=REPO,
            env=ENV,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stdout + out.stderr


def test_default_config_dry_run(tmp_path):
    out = snakemake("-n", "--configfile", str(REPO / "config.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^train_ring\s+2$", out.stdout, re.M)


def test_paper_preset_dry_runs_with_the_full_grid(tmp_path):
    out = snakemake("-n", "--configfile", str(REPO / "presets/ring_paper.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # 27 saturating cells and 49 non-saturating / LSGAN cells × 200 seeds, 600 runs a job.
    assert re.search(r"^train_ring\s+26$", out.stdout, re.M)
    assert (
        "job=saturating-lr0.0001-008" in out.stdout
        and "job=non_saturating-lr0.0001-015" in out.stdout
    )
    assert "job=lsgan-lr0.0001-000" in out.stdout


def test_bad_config_fails_before_any_job_and_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("dataset: ring", "dataset: moons"))
    out = snakemake("--configfile", str(bad), cwd=tmp_path)
    assert out.returncode != 0
    assert (
        "config key 'studies.ring_smoke.dataset': 'moons' is not allowed; allowed values: ring, grid"
        in out.stderr
    )
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_smoke_study_end_to_end(tmp_path):
    out = snakemake("--configfile", str(SMOKE), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-5000:]
    results = tmp_path / "results/ring_smoke"
    runs = pd.read_parquet(results / "runs.parquet")
    required = [
        "study",
        "dataset",
        "objective",
        "alpha_d",
        "alpha_g",
        "lr",
        "seed",
        "step",
        "epoch",
        "modes_covered",
        "hq_fraction",
        "kl",
        "rkl",
        "jsd",
        "tvd",
        "success",
        "failure",
        "status",
    ]
    assert set(required) <= set(runs.columns)
    # 3 cells (αD 0.5 and 1.0 saturating, LSGAN) × 2 seeds × 3 checkpoints (steps 20, 40, 60)
    assert len(runs) == 18 and sorted(runs.step.unique()) == [20, 40, 60]
    assert runs.loc[runs.objective == "lsgan", "alpha_d"].isna().all()
    summary = pd.read_parquet(results / "summary.parquet")
    assert len(summary) == 9 and (summary.n_seeds == 2).all()
    assert {
        "success_rate",
        "success_ci_low",
        "success_ci_high",
        "failure_rate",
        "failure_ci_low",
        "failure_ci_high",
        "mean_modes",
    } <= set(summary.columns)
    for fig in ("rates_vs_alpha_d", "heat_tables", "coverage_over_training", "sample_scatter"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/{fig}.{ext}").stat().st_size > 5000
    comparison = pd.read_csv(results / "paper_comparison.csv")
    assert set(comparison.alpha_d.dropna()) <= {0.5, 1.0} and len(comparison) > 0
    assert not list(results.glob("checkpoints/*.pt"))
    assert (
        "step 60/60" in (tmp_path / "logs/ring_smoke/train/saturating-lr0.0001-000.log").read_text()
    )

    again = snakemake("-n", "--configfile", str(SMOKE), cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr

    report = snakemake("--configfile", str(SMOKE), "--report", "report.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    assert "rates_vs_alpha_d.png" in html and "paper_comparison.csv" in html


def test_paper_all_dry_runs_every_study(tmp_path):
    out = snakemake(
        "-n", "--configfile", str(REPO / "presets/paper_all.yaml"), cwd=tmp_path, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    for rule, count in [
        ("train_ring", 26),
        ("train_image", 4583),
        ("evaluate_image", 4583),
        ("download_dataset", 3),
        ("reference_stats", 3),
        ("fetch_weights", 1),
    ]:
        assert re.search(rf"^{rule}\s+{count}$", out.stdout, re.M), rule


@pytest.mark.slow
def test_paper_all_smoke_runs_every_rule_end_to_end(tmp_path):
    """Every smoke preset at once: tiny format-exact data, stand-in Inception weights."""
    sources = subprocess.run(
        [str(BIN / "gansweep"), "smoke-sources", "resources/smoke"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = snakemake(
        "--configfile",
        str(REPO / "presets/smoke/paper_all.yaml"),
        sources,
        cwd=tmp_path,
        timeout=2400,
    )
    assert out.returncode == 0, out.stderr[-5000:]
    results = tmp_path / "results"
    images = [
        "cifar10_losses_smoke",
        "cifar10_stability_smoke",
        "celeba_alpha_smoke",
        "lsun_alpha_smoke",
    ]
    for study in images:
        runs = pd.read_parquet(results / study / "runs.parquet")
        assert runs["fid"].notna().all() and (runs["fid"] >= 0).all()
        for col in ("n_fake", "ref_split", "ref_size", "dims", "weights_sha256", "eval_seed"):
            assert runs[col].notna().all(), col
        assert set(runs.dims) == {2048} and set(runs.ref_split) == {"train"}
        summary = pd.read_parquet(results / study / "summary.parquet")
        assert {"fid_mean", "fid_std", "fid_ci_low", "fid_ci_high", "n_seeds"} <= set(
            summary.columns
        )
        for fig in (
            "fid_vs_lr",
            "fid_over_epochs",
            "loss_curves",
            "vanishing_gradients",
            "interpolations",
            "class_grids",
            "sample_grids",
        ):
            assert (results / study / f"figures/{fig}.png").stat().st_size > 5000, (study, fig)
    celeba = pd.read_parquet(results / "celeba_alpha_smoke/runs.parquet")
    assert set(celeba.fid_tv_logits_dims) == {1000} and set(celeba.fid_tv_logits_ref_split) == {
        "test"
    }
    assert len(celeba.step.unique()) == 2  # every epoch of two
    assert (results / "celeba_alpha_smoke/figures/fid_tv_logits_vs_lr.png").exists()
    assert (results / "ring_paper_smoke/paper_comparison.csv").exists()
    report = snakemake(
        "--configfile",
        str(REPO / "presets/smoke/paper_all.yaml"),
        sources,
        "--report",
        "report.html",
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr[-3000:]


# ---- config strings never reach a shell unquoted (issue 9, item 7) -------------------------

# Shell metacharacters of every kind; each `touch` would leave a PWNED* file behind if a shell
# ever ran the string instead of passing it on as one argument.
EVIL = "a b;$(touch PWNED1)`touch PWNED2`'q\"|&<>*$HOME!;touch PWNED3"


def evil_sources(root: Path) -> dict:
    """A config overlay putting EVIL into every config string that reaches a command line."""
    return {
        "data_dir": f"data {EVIL}",
        "fid": {
            "weights_dir": f"w {EVIL}",
            "weights": {
                m: {"url": f"file:///mirror/{m} {EVIL}", "sha256_prefix": "0123456789abcdef"}
                for m in ("fid", "fid_tv_logits")
            },
        },
        "downloads": {
            d: {"url": f"/mirror/{d} {EVIL}.zip"} for d in ("cifar10", "celeba", "lsun_classroom")
        },
    }


def shell_commands(dry_run_output: str) -> list[str]:
    """The commands a dry run with -p prints (`None`: a `run:` block, no shell)."""
    return [
        line.split("Shell command: ", 1)[1]
        for line in dry_run_output.splitlines()
        if line.startswith("Shell command: ") and line != "Shell command: None"
    ]


def test_config_strings_reach_commands_intact_and_never_run(tmp_path):
    """Every printed command, run by bash with printf in place of the program, hands each
    config string over as one intact argument, and no metacharacter is ever executed."""
    import yaml

    sources = evil_sources(tmp_path)
    overlay = tmp_path / "evil.yaml"
    overlay.write_text(yaml.safe_dump(sources))
    out = snakemake(
        "-n",
        "-p",
        "--configfile",
        str(REPO / "presets/smoke/paper_all.yaml"),
        str(overlay),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    commands = shell_commands(out.stdout + out.stderr)
    data, weights = sources["data_dir"], sources["fid"]["weights_dir"]
    seen = set()
    for cmd in commands:
        assert cmd.startswith("python -m gansweep "), cmd
        # printf prints the arguments the program would get; the log redirect goes
        argv_cmd = re.sub(
            r" 2?> logs/.*$", "", cmd.replace("python -m gansweep ", "printf '%s\\0' ", 1)
        )
        proc = subprocess.run(
            ["bash", "-c", argv_cmd], cwd=tmp_path, capture_output=True, timeout=30
        )
        assert proc.returncode == 0, (cmd, proc.stderr)
        argv = proc.stdout.decode().split("\0")[:-1]
        for arg in argv:  # every argument carrying the string carries all of it
            assert "PWNED" not in arg or EVIL in arg, (arg, cmd)
        sub, opts = argv[0], dict(a.split("=", 1) for a in argv if a.startswith("--") and "=" in a)
        seen.add(sub)
        if sub == "download":
            assert (
                opts["--url"] == sources["downloads"][argv[1]]["url"]
                and opts["--data-root"] == data
            )
        elif sub == "prepare":
            assert opts["--data-root"] == data
        elif sub == "fetch-weights":
            assert opts["--url"] == sources["fid"]["weights"][argv[1]]["url"]
            assert opts["--weights-dir"] == f"{weights}/{argv[1]}"
        elif sub == "reference-stats":
            assert opts["--data-root"] == data and opts["--weights"].startswith(f"{weights}/")
            assert opts["--out"].startswith(f"{data}/fid_stats/")
        elif sub == "evaluate-image":
            metric = argv.index("--metric")
            assert argv[metric + 2].startswith(f"{data}/fid_stats/"), argv
            assert argv[metric + 3].startswith(f"{weights}/"), argv
    assert {"download", "prepare", "fetch-weights", "reference-stats", "evaluate-image"} <= seen
    assert not list(tmp_path.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def test_checksums_with_shell_characters_are_rejected_by_the_schema():
    """md5 / sha256 / sha256_prefix are hex by schema: a hostile one never gets to a rule
    (a ConfigError stops the run before any job: test_bad_config_fails_before_any_job...)."""
    import yaml

    from gansweep.config import ConfigError, validate_config

    for key, overlay in [
        ("downloads.cifar10.md5", {"downloads": {"cifar10": {"md5": "$(touch PWNED)"}}}),
        ("downloads.cifar10.sha256", {"downloads": {"cifar10": {"sha256": "a;touch PWNED"}}}),
        (
            "fid.weights.fid.sha256_prefix",
            {"fid": {"weights": {"fid": {"sha256_prefix": "`touch PWNED`"}}}},
        ),
    ]:
        config = {**yaml.safe_load(SMOKE.read_text()), **overlay}
        with pytest.raises(ConfigError, match=f"config key '{re.escape(key)}'"):
            validate_config(config)


@pytest.mark.slow
def test_download_and_weights_from_mirror_paths_with_shell_characters(tmp_path):
    """A real run: a data set and Inception weights fetched from local mirrors, into a data_dir
    and weights_dir, all named with spaces, quotes, `;`, `$(...)` and backticks."""
    import hashlib

    import yaml

    from gansweep.testing.fixtures import make_cifar10_archive

    mirror = tmp_path / f"mirror {EVIL}"
    archive, md5 = make_cifar10_archive(mirror, n_train_per_batch=2, n_test=2)
    weights = mirror / "weights.pth"
    weights.write_bytes(b"stand-in weights")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    config = {
        "data_dir": f"data {EVIL}",
        "downloads": {"cifar10": {"url": str(archive), "md5": md5}},
        "fid": {
            "weights_dir": f"w {EVIL}",
            "weights": {"fid": {"url": str(weights), "sha256_prefix": digest[:16]}},
        },
    }
    overlay = tmp_path / "mirrors.yaml"
    overlay.write_text(yaml.safe_dump(config))
    weights_target = f"w {EVIL}/fid/pt_inception-2015-12-05-6726825d.pth"
    out = snakemake(
        f"data {EVIL}/cifar10/download.json",
        weights_target,
        "--configfile",
        str(REPO / "presets/smoke/cifar10_losses.yaml"),
        str(overlay),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-5000:]
    assert (tmp_path / f"data {EVIL}/cifar10/download.json").is_file()
    assert (tmp_path / weights_target).read_bytes() == b"stand-in weights"
    assert not list(tmp_path.rglob("PWNED*"))


# ---- the rules need the dependencies and the workflow, not an installed package (issue 10) --


def test_every_rule_runs_the_workflow_package_quotes_its_fields_and_is_benchmarked(tmp_path):
    """Read the rules from Snakemake itself: each shell rule calls `python -m gansweep` (the
    package from the workflow's src/, see common.smk), quotes every field (`:q`),
    and has a benchmark file, so `--report` shows where the time went."""
    import json
    import textwrap

    import yaml

    sources = tmp_path / "sources.yaml"  # the smoke presets refuse to run without sources
    sources.write_text(yaml.safe_dump(evil_sources(tmp_path)))
    configs = [str(REPO / "presets/smoke/paper_all.yaml"), str(sources)]
    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from snakemake.api import SnakemakeApi
        from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings
        with SnakemakeApi(OutputSettings(quiet={{"all"}})) as api:
            wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                              config_settings=ConfigSettings(configfiles=[Path(c) for c in {configs!r}]),
                              storage_settings=StorageSettings(), snakefile=Path({str(REPO / "Snakefile")!r}),
                              workdir=Path({str(tmp_path)!r}))
            print(json.dumps({{r.name: [r.shellcmd, bool(r.benchmark)] for r in wf._workflow.rules}}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rules = json.loads(proc.stdout.strip().splitlines()[-1])
    shell_rules = {name: cmd for name, (cmd, _) in rules.items() if cmd}
    assert {
        "download_dataset",
        "evaluate_image",
        "reference_stats",
        "aggregate_ring",
        "ring_figure",
    } <= set(shell_rules)
    for name, cmd in shell_rules.items():
        assert cmd.startswith("python -m gansweep "), (name, cmd)
        for field, spec in re.findall(r"(?<!\{)\{([\w.]+)(:\w*)?\}(?!\})", cmd):
            assert spec == ":q", (name, field)  # numbers too: one rule, nothing to remember
        assert rules[name][1], f"rule {name} has no benchmark:"
    assert set(rules) - set(shell_rules) == {"all", "job_spec", "image_job_spec"}  # run: blocks


def test_env_file_lists_exactly_the_package_dependencies():
    import tomllib

    import yaml

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs/gansweep.yaml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip) == sorted(project["dependencies"])  # same strings, no `-e ../`
    assert f"python{project['requires-python']}" in conda and "pip" in conda


def deps_only_python(tmp_path: Path, with_deps: bool = True) -> tuple[Path, Path]:
    """A Python with the project's dependencies (the venv's site-packages, read through a
    .pth file, whose own .pth files, the editable gansweep among them, are not processed)
    but not gansweep. Its `python` logs each call's arguments; returns (bin dir, call log)."""
    import sysconfig

    env, calls = tmp_path / "deps_env", tmp_path / "python_calls.log"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120
    )
    if with_deps:
        site = next((env / "lib").glob("python3*/site-packages"))
        (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    real = next((env / "bin").glob("python3.*"))
    (env / "bin/python").unlink()
    (env / "bin/python").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    (env / "bin/python").chmod(0o755)
    return env / "bin", calls


def bare_env(bin_dir: Path) -> dict:
    """No project venv on PATH, no gansweep command, no PYTHONPATH or user site."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "PYTHONNOUSERSITE": "1",
    }


@pytest.mark.slow
def test_rules_run_with_only_the_dependencies_and_the_workflow(tmp_path):
    """A training job runs where `python` has the dependencies but no gansweep, and no
    `gansweep` command is on PATH (as in a `--sdm conda` environment or a container): the rule
    finds the package in the workflow's src/."""
    bin_dir, calls = deps_only_python(tmp_path)
    env = bare_env(bin_dir)
    probe = subprocess.run(
        ["python", "-c", "import torch, pandas; import gansweep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "No module named 'gansweep'" in probe.stderr, (
        probe.stderr
    )  # the package is not installed
    import shutil

    assert shutil.which("gansweep", path=env["PATH"]) is None
    import yaml

    from gansweep.config import validate_config
    from gansweep.plan import ring_jobs

    job = next(
        iter(
            ring_jobs(
                "ring_smoke",
                validate_config(yaml.safe_load(SMOKE.read_text()))["studies"]["ring_smoke"],
            )
        )
    )
    target = f"results/ring_smoke/jobs/{job}.parquet"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--cores",
        "1",
        target,
        "--configfile",
        str(SMOKE),
    ]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-5000:]
    assert len(pd.read_parquet(tmp_path / target)) > 0
    assert any(
        line.startswith("-m gansweep train-ring ") for line in calls.read_text().splitlines()
    )


def test_a_python_without_the_dependencies_is_reported_before_any_job(tmp_path):
    bin_dir, _ = deps_only_python(tmp_path, with_deps=False)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-n",
        "--configfile",
        str(SMOKE),
    ]
    out = subprocess.run(
        cmd, cwd=tmp_path, env=bare_env(bin_dir), capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    msg = "lacks torch, torchvision, pandas, pytorch_fid: activate the project environment"
    assert msg in out.stdout + out.stderr, out.stdout + out.stderr
