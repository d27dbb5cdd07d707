"""Bad input to every command: one line naming the file or argument and what is wrong, exit
status 2 (usage) or 1 (bad data), and a traceback only when asked for (--debug, GANSWEEP_DEBUG)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gansweep import cli
from gansweep.cli import main
from gansweep.plan import IMAGE_SPEC_KEYS, RING_SPEC_KEYS
from gansweep.tables import TABLES

USAGE, BAD_DATA = 2, 1


def valid(kind: str) -> pd.DataFrame:
    """A one-row table with every column its kind requires (enough to get past reading)."""
    return pd.DataFrame({c: [0] for c in TABLES[kind].columns})


def bad_file(kind: str, path):
    """Write a bad input of this kind at ``path``: text, binary garbage, a parquet table with
    the wrong columns, or nothing (missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "text":
        path.write_text("study,step\nring,1\n")
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif kind == "columns":
        pd.DataFrame({"a": [1], "b": [2]}).to_parquet(path)
    return path


def write(kind: str, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    valid(kind).to_parquet(path)
    return path


# (command line, where the bad file goes, the table kind it should have been); {bad} is the
# bad file, {ok:<kind>} a valid table of that kind, {out} an output folder.
TABLE_CASES = {
    "aggregate": (
        ["aggregate", "--runs", "{out}/r.parquet", "--summary", "{out}/s.parquet", "{bad}"],
        "job",
    ),
    "figure-summary": (
        ["figure", "heat_tables", "--out", "{out}/f.png", "{bad}", "{ok:comparisons}"],
        "summary",
    ),
    "figure-comparisons": (
        ["figure", "rates_vs_alpha_d", "--out", "{out}/f.png", "{ok:summary}", "{bad}"],
        "comparisons",
    ),
    "figure-samples": (["figure", "sample_scatter", "--out", "{out}/f.png", "{bad}"], "samples"),
    "figure-runs": (["figure", "coverage_over_training", "--out", "{out}/f.png", "{bad}"], "runs"),
    "compare-summary": (
        ["compare", "--study", "s", "--summary", "{bad}", "--out", "{out}/c.parquet"],
        "summary",
    ),
    "compare-runs": (
        ["compare", "--study", "s", "--runs", "{bad}", "--out", "{out}/c.parquet"],
        "image_runs",
    ),
    "compare-paper": (["compare-paper", "--summary", "{bad}", "--out", "{out}/p.csv"], "summary"),
    "seeds-needed": (
        ["seeds-needed", "--comparisons", "{bad}", "--out", "{out}/power.csv"],
        "comparisons",
    ),
    "aggregate-image-evals": (
        [
            "aggregate-image",
            "--train-runs",
            "{ok:image_train_runs}",
            "--runs",
            "{out}/r.parquet",
            "--summary",
            "{out}/s.parquet",
            "{bad}",
        ],
        "image_evals",
    ),
    "aggregate-image-train-runs": (
        [
            "aggregate-image",
            "--train-runs",
            "{bad}",
            "--runs",
            "{out}/r.parquet",
            "--summary",
            "{out}/s.parquet",
            "{ok:image_evals}",
        ],
        "image_train_runs",
    ),
    "image-figure": (
        ["image-figure", "fid_vs_lr", "--out", "{out}/f.png", "{bad}"],
        "image_summary",
    ),
    "aggregate-training": (
        [
            "aggregate-training",
            "--runs",
            "{out}/r.parquet",
            "--log",
            "{out}/l.parquet",
            "--grads",
            "{out}/g.parquet",
            "{bad}",
        ],
        "image_train_runs",
    ),
}
FILE_NAME = {"image_summary": "summary.parquet", "image_train_runs": "runs.parquet"}


def fill(argv, tmp_path, bad):
    out = []
    for arg in argv:
        if arg.startswith("{ok:"):
            kind = arg[4:-1]
            arg = str(write(kind, tmp_path / "ok" / kind / FILE_NAME.get(kind, f"{kind}.parquet")))
        out.append(arg.format(bad=bad, out=tmp_path / "out"))
    return out


def run(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return exit_.value.code, captured.err


def assert_one_line(err: str, command: str, *needles: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"gansweep {command}: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("bad", ["text", "garbage", "columns", "missing"])
@pytest.mark.parametrize("case", sorted(TABLE_CASES))
def test_a_bad_table_is_one_line_naming_the_file(case, bad, tmp_path, capsys):
    argv, kind = TABLE_CASES[case]
    name = FILE_NAME.get(kind, f"{bad}.parquet" if bad != "text" else "notes.txt")
    if kind == "job" and bad == "garbage":
        name = "job.parquet"  # a corrupt job table: moved aside so that its job retrains
    path = bad_file(bad, tmp_path / "in" / name)
    if kind == "image_train_runs" and case == "aggregate-training":
        for other in ("log", "grads"):
            write(f"image_train_{other}", path.with_name(f"{other}.parquet"))
    code, err = run(capsys, fill(argv, tmp_path, path))
    assert code == BAD_DATA
    expected = {
        "text": "not a readable parquet file",
        "garbage": "truncated or corrupt" if name == "job.parquet" else "not a readable parquet",
        "columns": f"lacks columns {TABLES[kind].columns[0]}",
        "missing": "no such file",
    }[bad]
    what = [] if name == "job.parquet" else [TABLES[kind].what]  # corrupt: says what to run
    assert_one_line(err, argv[0], str(path), expected, *what)
    if bad == "columns":  # which columns it has, and every column it should have
        assert "its columns: a, b" in err and ", ".join(TABLES[kind].columns) in err
    if name == "job.parquet":
        assert path.with_name("job.parquet.corrupt").exists() and not path.exists()
    else:
        assert path.exists() == (bad != "missing")  # a user's file is never moved


def test_the_fid_column_compare_is_asked_for_must_exist(tmp_path, capsys):
    runs = write("image_runs", tmp_path / "runs.parquet")
    argv = ["compare", "--study", "s", "--runs", runs, "--metric", "fid_x", "--out", tmp_path / "c"]
    code, err = run(capsys, argv)
    assert code == BAD_DATA
    assert_one_line(err, "compare", str(runs), "lacks columns fid_x", "--metric fid_x")


@pytest.mark.parametrize(
    "baseline, needle",
    [
        ('{"objective": "saturating"', "not JSON"),
        ("[1, 2]", "is not a JSON object naming a cell"),
        ('{"alpha_d": 1}', "is not a JSON object naming a cell"),
    ],
)
def test_a_bad_baseline_is_a_usage_error(baseline, needle, tmp_path, capsys):
    argv = ["compare", "--study", "s", "--summary", write("summary", tmp_path / "s.parquet")]
    code, err = run(capsys, argv + ["--baseline", baseline, "--out", tmp_path / "c.parquet"])
    assert code == USAGE
    assert_one_line(err, "compare", "--baseline", needle)


def test_a_baseline_that_is_no_cell_is_named(tmp_path, capsys):
    summary = tmp_path / "s.parquet"
    cell = {"study": "s", "dataset": "ring", "objective": "saturating", "alpha_d": 1.0}
    valid("summary").assign(**cell, alpha_g=1.0, lr=1e-4, n_seeds=2).to_parquet(summary)
    argv = ["compare", "--study", "s", "--summary", summary, "--out", tmp_path / "c.parquet"]
    code, err = run(capsys, argv + ["--baseline", '{"objective": "lsgan"}'])
    assert code == BAD_DATA
    assert_one_line(err, "compare", "is not a cell of study")


SPEC_COMMANDS = {
    "train-ring": (
        ["--runs", "{out}/r", "--samples", "{out}/s", "--checkpoint", "{out}/c"],
        RING_SPEC_KEYS,
    ),
    "train-image": (["--out-dir", "{out}"], IMAGE_SPEC_KEYS),
    "evaluate-image": (
        ["--job-dir", "{out}", "--metric", "fid", "r", "w", "--n-samples", "1", "--eval-seed", "1"]
        + ["--out", "{out}/e.parquet", "--images", "{out}/i.npz"],
        IMAGE_SPEC_KEYS,
    ),
}


@pytest.mark.parametrize(
    "content, code, needle",
    [
        ("not json {", USAGE, "not JSON"),
        ("[1, 2]", USAGE, "a job spec is a JSON object, not list"),
        ('{"study": "s"}', USAGE, "incomplete job spec: lacks job"),
        (None, BAD_DATA, "no such file"),
    ],
)
@pytest.mark.parametrize("command", sorted(SPEC_COMMANDS))
def test_a_bad_spec_is_one_line(command, content, code, needle, tmp_path, capsys):
    spec = tmp_path / "spec.json"
    if content is not None:
        spec.write_text(content)
    rest, keys = SPEC_COMMANDS[command]
    argv = [command, "--spec", spec, *(a.format(out=tmp_path / "out") for a in rest)]
    got, err = run(capsys, argv)
    assert got == code
    assert_one_line(err, command, str(spec), needle)
    if content and content.startswith("{"):
        assert ", ".join(keys) in err  # what a spec must hold


def test_spec_keys_are_those_the_planner_writes(tiny_job, tmp_path):
    from test_image_training import ARCH_DATA, LOSSES, job_spec

    assert set(RING_SPEC_KEYS) <= set(tiny_job)
    assert set(IMAGE_SPEC_KEYS) <= set(job_spec(tmp_path, next(iter(ARCH_DATA)), LOSSES["hinge"]))


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["aggregate", "--runs", "r.parquet"], "the following arguments are required"),
        (["figure", "nope", "--out", "x.png", "t.parquet"], "unknown figure 'nope'"),
        (["figure", "sample_scatter", "--dataset", "moons", "--out", "x.png", "t"], "'moons'"),
        (["compare", "--study", "s", "--out", "o"], "one of the arguments --summary --runs"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(argv, needle, capsys):
    code, err = run(capsys, argv)
    assert code == USAGE
    assert_one_line(err, argv[0], needle)


def test_image_figure_inputs_are_checked(tmp_path, capsys):
    stray = bad_file("columns", tmp_path / "other.parquet")
    code, err = run(capsys, ["image-figure", "fid_vs_lr", "--out", tmp_path / "f.png", stray])
    assert code == USAGE
    assert_one_line(err, "image-figure", str(stray), "not an image-study input", "summary.parquet")
    log = write("image_train_log", tmp_path / "train_log.parquet")
    code, err = run(capsys, ["image-figure", "loss_curves", "--out", tmp_path / "f.png", log])
    assert code == USAGE
    assert_one_line(err, "image-figure", "loss_curves needs train_runs.parquet")


@pytest.mark.parametrize("content", ["text", "npz"])
def test_a_bad_images_file_is_named(content, tmp_path, capsys):
    path = tmp_path / "runs/cell/job/images.npz"
    path.parent.mkdir(parents=True)
    if content == "text":
        path.write_text("no arrays here")
    else:
        with open(path, "wb") as f:
            np.savez(f, samples=np.zeros(3))  # no seed<k>/ prefix
    code, err = run(capsys, ["image-figure", "sample_grids", "--out", tmp_path / "f.png", path])
    assert code == BAD_DATA
    assert_one_line(err, "image-figure", str(path), "not a job's images.npz")


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    """Only expected errors are shortened: anything else is a bug and must be seen."""

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "_compare_paper", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["compare-paper", "--summary", "s.parquet", "--out", str(tmp_path / "p.csv")])


def gansweep(*argv, env=None, cwd):
    env = {k: v for k, v in os.environ.items() if k != "GANSWEEP_DEBUG"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "gansweep", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_the_process_prints_one_line_and_a_traceback_only_when_asked(tmp_path):
    notes = bad_file("text", tmp_path / "notes.txt")
    argv = ["compare-paper", "--summary", notes, "--out", tmp_path / "p.csv"]
    plain = gansweep(*argv, cwd=tmp_path)
    assert plain.returncode == BAD_DATA and plain.stdout == ""
    assert_one_line(plain.stderr, "compare-paper", str(notes), "not a readable parquet file")
    for debug in (
        gansweep("--debug", *argv, cwd=tmp_path),
        gansweep(*argv, env={"GANSWEEP_DEBUG": "1"}, cwd=tmp_path),
    ):
        assert debug.returncode != 0
        assert "Traceback (most recent call last)" in debug.stderr
        assert "InputError" in debug.stderr and str(notes) in debug.stderr
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"job": "x"}))
    usage = gansweep(
        "train-ring",
        "--spec",
        spec,
        "--runs",
        "r",
        "--samples",
        "s",
        "--checkpoint",
        "c",
        cwd=tmp_path,
    )
    assert usage.returncode == USAGE
    assert_one_line(usage.stderr, "train-ring", str(spec), "incomplete job spec: lacks study")


def test_evaluate_image_names_a_missing_job_table(tmp_path, capsys):
    from test_image_training import ARCH_DATA, LOSSES, job_spec

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(job_spec(tmp_path, next(iter(ARCH_DATA)), LOSSES["hinge"])))
    rest = [a.format(out=tmp_path / "job") for a in SPEC_COMMANDS["evaluate-image"][0]]
    code, err = run(capsys, ["evaluate-image", "--spec", spec, *rest])
    assert code == BAD_DATA
    assert_one_line(err, "evaluate-image", str(tmp_path / "job/runs.parquet"), "no such file")


@pytest.mark.parametrize("content", [None, b"junk", "npz"])
def test_bad_reference_statistics_are_named(content, tmp_path):
    from gansweep.errors import InputError
    from gansweep.metrics.fid import load_stats

    path = tmp_path / "fid_train.npz"
    if content == "npz":
        np.savez(path, other=np.zeros(2))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_stats(path)
    needle = {None: "no such file", b"junk": "not a readable npz", "npz": "lacks arrays mu, sigma"}
    assert str(path) in str(err.value) and needle[content] in str(err.value)
    assert "reference-stats" in str(err.value)
