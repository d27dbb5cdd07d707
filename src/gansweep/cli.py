"""Command line the Snakemake rules call: ``gansweep <command> ...``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd


def _read_spec(path: str, required: tuple[str, ...]) -> dict:
    """A job spec; the plugin files it names are imported first, so that their losses and
    architectures are registered before the job looks them up (also on a cluster node).
    A spec that is not a JSON object with the ``required`` keys is a usage error."""
    from gansweep.errors import USAGE, InputError
    from gansweep.io import read_json
    from gansweep.plugins import load_plugins

    spec = read_json(path, "job spec (JSON object)")
    if not isinstance(spec, dict):
        raise InputError(path, f"a job spec is a JSON object, not {type(spec).__name__}", USAGE)
    missing = [k for k in required if k not in spec]
    if missing:
        raise InputError(
            path,
            f"incomplete job spec: lacks {', '.join(missing)} (a job spec has "
            f"{', '.join(required)}; the workflow's job_spec rule writes them)",
            USAGE,
        )
    load_plugins(spec.get("plugins", []))
    return spec


def _train_ring(args: argparse.Namespace) -> None:
    from gansweep.plan import RING_SPEC_KEYS
    from gansweep.training.ring import run_job

    spec = _read_spec(args.spec, RING_SPEC_KEYS)
    run_job(spec, Path(args.runs), Path(args.samples), Path(args.checkpoint))


def _train_image(args: argparse.Namespace) -> None:
    from gansweep.plan import IMAGE_SPEC_KEYS
    from gansweep.training.image import run_image_job

    run_image_job(_read_spec(args.spec, IMAGE_SPEC_KEYS), Path(args.out_dir))


def _aggregate_training(args: argparse.Namespace) -> None:
    from gansweep.io import write_parquet
    from gansweep.tables import TABLES

    out = {"runs": [], "log": [], "grads": []}
    for runs_path in map(Path, args.jobs):
        for kind in out:
            table = TABLES[f"image_train_{kind}"].read(runs_path.with_name(f"{kind}.parquet"))
            out[kind].append(table.assign(job=runs_path.parent.name))
    for kind, frames in out.items():
        write_parquet(pd.concat(frames, ignore_index=True), getattr(args, kind))
    print(f"{sum(map(len, out['runs']))} runs aggregated", file=sys.stderr)


def _download(args: argparse.Namespace) -> None:
    from gansweep.data import download
    from gansweep.io import write_text

    path = download(
        args.name,
        args.data_root,
        url=args.url,
        md5=args.md5,
        sha256=args.sha256,
        n_images=args.n_images,
    )
    record = {
        "dataset": args.name,
        "path": str(path),
        "url": args.url,
        "md5": args.md5,
        "sha256": args.sha256,
        "n_images": args.n_images,
    }
    write_text(json.dumps(record, indent=1), Path(args.data_root) / args.name / "download.json")


def _prepare(args: argparse.Namespace) -> None:
    from gansweep.data import prepare

    prepare(
        args.name,
        args.data_root,
        split_seed=args.split_seed,
        train_fraction=args.train_fraction,
        workers=args.workers,
        force=args.force,
    )


def _fetch_weights(args: argparse.Namespace) -> None:
    from gansweep.metrics.fid import fetch_weights

    fetch_weights(args.metric, args.weights_dir, url=args.url, sha256_prefix=args.sha256_prefix)


def _reference_stats(args: argparse.Namespace) -> None:
    import torch

    from gansweep.metrics.fid import compute_reference_stats

    torch.set_num_threads(args.threads)
    compute_reference_stats(
        args.metric,
        args.dataset,
        args.data_root,
        args.split,
        args.weights,
        args.out,
        device=args.device,
        batch_size=args.batch_size,
        sha256_prefix=args.sha256_prefix,
    )


def _evaluate_image(args: argparse.Namespace) -> None:
    import torch

    from gansweep.evaluation import evaluate_image_job
    from gansweep.plan import IMAGE_SPEC_KEYS

    torch.set_num_threads(args.threads)
    spec = _read_spec(args.spec, IMAGE_SPEC_KEYS)
    spec["eval"] = {
        "seed": args.eval_seed,
        "n_samples": args.n_samples,
        "metrics": [m for m, _, _ in args.metric],
        "feature_metrics": args.feature_metrics,
        "feature_samples": args.feature_samples,
    }
    evaluate_image_job(
        spec,
        Path(args.job_dir),
        references={m: Path(ref) for m, ref, _ in args.metric},
        weights={m: Path(w) for m, _, w in args.metric},
        out_table=Path(args.out),
        out_images=Path(args.images),
        device=args.device,
        batch_size=args.batch_size,
        weights_sha256=dict(args.sha256_prefix or []),
    )


def _aggregate_image(args: argparse.Namespace) -> None:
    from gansweep.evaluation import aggregate_image
    from gansweep.io import write_parquet
    from gansweep.tables import TABLES

    evals = pd.concat([TABLES["image_evals"].read(p) for p in args.evals], ignore_index=True)
    runs, summary = aggregate_image(evals, TABLES["image_train_runs"].read(args.train_runs))
    write_parquet(runs, args.runs)
    write_parquet(summary, args.summary)


def _image_figure(args: argparse.Namespace) -> None:
    from gansweep.errors import USAGE, InputError
    from gansweep.figures.images import FIGURES
    from gansweep.figures.registry import IMAGE_FIGURE_INPUTS
    from gansweep.tables import TABLES

    _known(args.name, FIGURES, "image figure")
    tables, images = {}, {}
    for path in map(Path, args.inputs):
        if path.suffix == ".npz":  # results/<study>/runs/<cell>/<job>/images.npz
            _read_images(path, images.setdefault(path.parent.parent.name, {}))
        elif f"image_{path.stem}" in TABLES:  # summary, train_log, train_runs, train_grads
            tables[path.stem] = TABLES[f"image_{path.stem}"].read(path)
        else:
            stems = {n for needs in IMAGE_FIGURE_INPUTS.values() for n in needs} - {"images"}
            known = ", ".join(f"{n}.parquet" for n in sorted(stems))
            raise InputError(path, f"not an image-study input; known: {known}, images.npz", USAGE)
    needs = IMAGE_FIGURE_INPUTS[args.name]
    lacking = [n for n in needs if n != "images" and n not in tables]
    if lacking:
        given = ", ".join(args.inputs)
        raise InputError(
            "inputs", f"{args.name} needs {', '.join(lacking)}.parquet; given: {given}", USAGE
        )
    data = [images if n == "images" else tables[n] for n in needs]
    FIGURES[args.name](*data, Path(args.out).with_suffix(""))


def _read_images(path: Path, into: dict) -> None:
    """A job's images.npz (arrays ``seed<k>/<name>``) into ``into[k][name]``."""
    import zipfile

    import numpy as np

    from gansweep.errors import InputError

    if not path.is_file():
        raise InputError(path, "no such file (expected a job's images.npz)")
    try:
        with np.load(path) as arrays:
            for key in arrays.files:
                seed, name = key.split("/")
                into.setdefault(int(seed.removeprefix("seed")), {})[name] = arrays[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        # np.load of a non-npz: OSError / pickle ValueError; a foreign npz: bad key names
        raise InputError(
            path, f"not a job's images.npz (arrays seed<k>/<name>): {type(err).__name__}: {err}"
        ) from err


def _smoke_sources(args: argparse.Namespace) -> None:
    from gansweep.testing.fixtures import write_smoke_sources

    print(write_smoke_sources(Path(args.out_dir)))


def _aggregate(args: argparse.Namespace) -> None:
    from gansweep.io import write_parquet
    from gansweep.tables import collect_runs, summarize

    runs = collect_runs(args.jobs)
    write_parquet(runs, args.runs)
    write_parquet(summarize(runs), args.summary)
    print(f"{len(runs)} run rows -> {args.runs}; summary -> {args.summary}", file=sys.stderr)


def _compare_paper(args: argparse.Namespace) -> None:
    from gansweep.io import write_text
    from gansweep.paper import compare_with_paper
    from gansweep.tables import TABLES

    table = compare_with_paper(TABLES["summary"].read(args.summary))
    write_text(table.to_csv(index=False, float_format="%.4g"), args.out)
    inside = int(table["paper_inside_ci"].sum()) if len(table) else 0
    print(f"{len(table)} paper numbers matched; {inside} inside our 95 % CI", file=sys.stderr)


def _figure(args: argparse.Namespace) -> None:
    from gansweep.config import TOY2D_DATASETS
    from gansweep.data import DATASETS
    from gansweep.figures.ring import FIGURES
    from gansweep.tables import TABLES

    _known(args.name, FIGURES, "figure")
    stem = Path(args.out).with_suffix("")
    if args.name == "sample_scatter":
        _known(args.dataset, TOY2D_DATASETS, "2D dataset")
        mixture = DATASETS[args.dataset]()
        modes = pd.DataFrame(mixture.means.numpy(), columns=["x", "y"])
        samples = pd.concat([TABLES["samples"].read(p) for p in args.tables], ignore_index=True)
        FIGURES[args.name](samples, modes, mixture.std, stem)
    elif args.name == "coverage_over_training":
        FIGURES[args.name](*[TABLES["runs"].read(p) for p in args.tables], stem)
    else:  # extra tables (comparisons.parquet for the success-rate figures) follow the stem
        first, *extra = args.tables
        extra = [TABLES["comparisons"].read(p) for p in extra]
        FIGURES[args.name](TABLES["summary"].read(first), stem, *extra)


def _compare(args: argparse.Namespace) -> None:
    from gansweep.errors import USAGE, InputError
    from gansweep.io import check_columns, parse_json_argument, write_parquet, write_text
    from gansweep.stats import compare_fid, compare_rates
    from gansweep.tables import TABLES

    baseline = None
    if args.baseline:
        example = 'a JSON object naming a cell, e.g. {"objective": "saturating", "alpha_d": 1}'
        baseline = parse_json_argument("--baseline", args.baseline, example)
        if not isinstance(baseline, dict) or (baseline and "objective" not in baseline):
            raise InputError("--baseline", f"{args.baseline!r} is not {example}", USAGE)
    if args.summary:
        table = compare_rates(TABLES["summary"].read(args.summary), {args.study: baseline})
    else:
        runs = TABLES["image_runs"].read(args.runs)
        check_columns(runs, args.runs, [args.metric], f"runs table with --metric {args.metric}")
        table = compare_fid(runs, {args.study: baseline}, metric=args.metric)
    write_parquet(table, args.out)
    if args.csv:
        write_text(table.to_csv(index=False, float_format="%.4g"), args.csv)
    n_sig = int(table["significant"].sum()) if len(table) else 0
    print(
        f"{len(table)} comparisons with the baseline; {n_sig} significant (Holm p < 0.05)",
        file=sys.stderr,
    )


def _seeds_needed(args: argparse.Namespace) -> None:
    from gansweep.io import write_text
    from gansweep.power import detectable_rates, power_at, seeds_needed
    from gansweep.stats import image_power_table, ring_power_table
    from gansweep.tables import TABLES

    p0, p1 = args.rates
    n, test = seeds_needed(p0, p1, args.power, args.alpha)
    print(
        f"{n} seeds per cell detect a success rate of {p0:g} vs {p1:g} with power {args.power:g} "
        f"({_planned_test(test, args.alpha)})"
    )
    for seeds in args.seeds or []:
        power, test = power_at(seeds, p0, p1, args.alpha)
        lo, hi, _ = detectable_rates(seeds, p0, args.power, args.alpha)
        sides = [f"≤ {lo:.3f}" if lo is not None else "", f"≥ {hi:.3f}" if hi is not None else ""]
        detectable = (
            f"rates {' or '.join(s for s in sides if s)} are told from {p0:g} "
            f"with power {args.power:g}"
            if lo is not None or hi is not None
            else f"no rate is told from {p0:g} with power {args.power:g}"
        )
        print(
            f"{seeds} seeds per cell give power {power:.3f}; {detectable} "
            f"({_planned_test(test, args.alpha)})"
        )
    if args.comparisons:
        if not args.out:
            from gansweep.errors import USAGE, InputError

            raise InputError("--comparisons", "needs --out (the power table's CSV path)", USAGE)
        comparisons = TABLES["comparisons"].read(args.comparisons)
        if len(comparisons) and comparisons["metric"].iloc[0] in ("success_rate", "failure_rate"):
            table = ring_power_table(comparisons, (p0, p1), args.power, args.alpha)
        else:
            table = image_power_table(comparisons, args.effect_size, args.power, args.alpha)
        write_text(table.to_csv(index=False, float_format="%.4g"), args.out)
        print(table.to_string(index=False), file=sys.stderr)


def _planned_test(test: str, alpha: float) -> str:
    """Which test and α a seed-planning number is for."""
    from gansweep.power import EXACT_MAX_N, NORMAL

    how = f" (Cohen's h, used above {EXACT_MAX_N:,} seeds per cell)" if test == NORMAL else ""
    return f"test: {test}{how}, two-sided alpha {alpha:g} per comparison, before Holm"


def _unit_interval(closed: bool):
    """argparse type: a float in [0, 1] (closed) or (0, 1)."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (0 <= x <= 1 if closed else 0 < x < 1):
            raise argparse.ArgumentTypeError(f"{text} is not in {'[0, 1]' if closed else '(0, 1)'}")
        return x

    return parse


def _positive(kind):
    """argparse type: a number of this kind greater than zero."""

    def parse(text: str):
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not x > 0:
            raise argparse.ArgumentTypeError(f"{text} is not greater than 0")
        return x

    return parse


class _DistinctRates(argparse.Action):
    """--rates P0 P1: equal rates have no sample size that tells them apart."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values[0] == values[1]:
            parser.error(
                f"argument {option_string}: the two rates are equal ({values[0]:g}); "
                "no number of seeds detects a zero difference"
            )
        setattr(namespace, self.dest, values)


def _known(name: str, known, what: str) -> None:
    from gansweep.errors import USAGE, InputError

    if name not in known:
        raise InputError(None, f"unknown {what} {name!r}; known: {', '.join(sorted(known))}", USAGE)


def registered(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of everything registered under ``kind`` (see LIST_KINDS)."""
    from gansweep.registry import describe

    if kind == "losses":
        from gansweep.losses import LOSSES as registry
    elif kind == "architectures":
        from gansweep.config import RING_MODELS
        from gansweep.models import MODELS

        return [
            (n, ("[2D] " if n in RING_MODELS else "[image] ") + describe(MODELS[n]))
            for n in MODELS.in_order()
        ]
    elif kind == "datasets":
        from gansweep.data import DATASETS

        return [(n, _describe_dataset(DATASETS[n])) for n in DATASETS.in_order()]
    elif kind == "metrics":
        from gansweep.metrics import METRICS
        from gansweep.metrics.fid import FEATURE_EXTRACTORS

        return [
            (n, describe(METRICS[n])) for n in METRICS.in_order() if n not in FEATURE_EXTRACTORS
        ] + [(n, describe(FEATURE_EXTRACTORS[n])) for n in FEATURE_EXTRACTORS.in_order()]
    elif kind == "figures":
        from gansweep.figures.images import FIGURES as image_figures
        from gansweep.figures.ring import FIGURES as ring_figures

        return [(n, f"[2D] {describe(f)}") for n, f in ring_figures.items()] + [
            (n, f"[image] {describe(f)}") for n, f in image_figures.items()
        ]
    else:
        raise SystemExit(f"gansweep list: unknown kind {kind!r}; known: {', '.join(LIST_KINDS)}")
    return [(n, describe(registry[n])) for n in registry.in_order()]


def _describe_dataset(source) -> str:
    from gansweep.registry import describe

    if getattr(source, "kind", None) != "image":
        return f"[2D] {describe(source)}"
    classes = f", {source.n_classes} classes" if source.n_classes else ""
    return f"[image] {source.resolution}×{source.resolution}, {source.n_images:,} images{classes}; {source.homepage}"


LIST_KINDS = ("losses", "architectures", "datasets", "figures", "metrics")


def _list(args: argparse.Namespace) -> None:
    from gansweep.plugins import load_plugins

    load_plugins(args.plugin or [])
    entries = registered(args.kind)
    width = max(len(n) for n, _ in entries)
    for name, text in entries:
        print(f"{name:<{width}}  {text}".rstrip())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import gansweep

    try:
        return version("gansweep")
    except PackageNotFoundError:  # run from a source tree without installing
        return gansweep.__version__


def add_inception_run_args(p: argparse.ArgumentParser) -> None:
    """Where and how the Inception network runs (reference statistics and evaluation alike)."""
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (the usage text is one ``--help`` away), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gansweep", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gansweep {_version()}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an error (also: {DEBUG_ENV}=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="what is registered: " + " | ".join(LIST_KINDS))
    p.add_argument("kind", choices=LIST_KINDS)
    p.add_argument(
        "--plugin", action="append", metavar="FILE.py", help="import a plugin first (repeatable)"
    )
    p.set_defaults(func=_list)

    p = sub.add_parser("train-ring", help="train one job of a 2D study (many runs at once)")
    p.add_argument("--spec", required=True, help="job spec (.json file)")
    p.add_argument("--runs", required=True, help="output parquet, one row per run × checkpoint")
    p.add_argument("--samples", required=True, help="output parquet of final samples")
    p.add_argument("--checkpoint", required=True, help="resumable checkpoint path")
    p.set_defaults(func=_train_ring)

    p = sub.add_parser("download", help="download an image dataset (checksummed, atomic)")
    p.add_argument("name")
    p.add_argument("--data-root", required=True)
    p.add_argument("--url", help="mirror: http(s)://, file:// or a local path")
    p.add_argument("--md5")
    p.add_argument("--sha256")
    p.add_argument(
        "--n-images",
        type=int,
        help="LSUN: the image count the mirror holds (default: the published count)",
    )
    p.set_defaults(func=_download)

    p = sub.add_parser("prepare", help="decode an image dataset once into uint8 arrays")
    p.add_argument("name")
    p.add_argument("--data-root", required=True)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--split-seed", type=int, default=1)
    p.add_argument("--train-fraction", type=float, default=0.8)
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("fetch-weights", help="fetch and check Inception weights for an FID metric")
    p.add_argument("metric")
    p.add_argument("--weights-dir", required=True)
    p.add_argument("--url", help="mirror: http(s)://, file:// or a local path")
    p.add_argument("--sha256-prefix")
    p.set_defaults(func=_fetch_weights)

    p = sub.add_parser("reference-stats", help="FID statistics of a prepared dataset split")
    p.add_argument("metric")
    p.add_argument("dataset")
    p.add_argument("split", choices=["train", "test"])
    p.add_argument("--data-root", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sha256-prefix")
    add_inception_run_args(p)
    p.set_defaults(func=_reference_stats)

    p = sub.add_parser("evaluate-image", help="FID and image artefacts of one training job")
    p.add_argument("--spec", required=True)
    p.add_argument("--job-dir", required=True)
    p.add_argument(
        "--metric",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "REFERENCE_STATS", "WEIGHTS"),
    )
    p.add_argument("--sha256-prefix", nargs=2, action="append", metavar=("NAME", "PREFIX"))
    p.add_argument("--n-samples", type=int, required=True)
    p.add_argument("--eval-seed", type=int, required=True)
    p.add_argument(
        "--feature-metrics",
        nargs="*",
        choices=["prdc", "kid"],
        default=["prdc"],
        help="on the FID's features: precision/recall/density/coverage, KID",
    )
    p.add_argument(
        "--feature-samples", type=int, default=10_000, help="real and fake features they use"
    )
    p.add_argument("--out", required=True)
    p.add_argument("--images", required=True)
    add_inception_run_args(p)
    p.set_defaults(func=_evaluate_image)

    p = sub.add_parser("aggregate-image", help="evaluation tables → runs.parquet + summary.parquet")
    p.add_argument("--train-runs", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("evals", nargs="+")
    p.set_defaults(func=_aggregate_image)

    p = sub.add_parser("image-figure", help="draw one image-study figure from tables / arrays")
    p.add_argument("name")
    p.add_argument("--out", required=True)
    p.add_argument("inputs", nargs="+")
    p.set_defaults(func=_image_figure)

    p = sub.add_parser("smoke-sources", help="tiny datasets + stand-in weights for smoke runs")
    p.add_argument("out_dir")
    p.set_defaults(func=_smoke_sources)

    p = sub.add_parser("train-image", help="train the seeds of one image-study job")
    p.add_argument("--spec", required=True, help="job spec (.json file)")
    p.add_argument("--out-dir", required=True, help="job folder: tables and per-seed artefacts")
    p.set_defaults(func=_train_image)

    p = sub.add_parser("aggregate-training", help="image jobs' tables → study tables")
    p.add_argument("--runs", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--grads", required=True)
    p.add_argument("jobs", nargs="+", help="per-job runs.parquet (log/grads beside them)")
    p.set_defaults(func=_aggregate_training)

    p = sub.add_parser("aggregate", help="job tables → runs.parquet + summary.parquet")
    p.add_argument("--runs", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("jobs", nargs="+", help="per-job parquet files")
    p.set_defaults(func=_aggregate)

    p = sub.add_parser("compare-paper", help="ours vs the paper's published numbers")
    p.add_argument("--summary", required=True)
    p.add_argument("--out", required=True, help="CSV")
    p.set_defaults(func=_compare_paper)

    p = sub.add_parser(
        "compare", help="each cell vs the study's baseline cell: CIs, p-values (Holm)"
    )
    p.add_argument("--study", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--summary", help="a 2D study's summary.parquet (success / failure rates)")
    src.add_argument("--runs", help="an image study's runs.parquet (FID per seed)")
    p.add_argument("--metric", default="fid", help="image studies: the FID column to compare")
    p.add_argument(
        "--baseline", help='JSON, e.g. {"objective": "saturating", "alpha_d": 1}; default: vanilla'
    )
    p.add_argument("--out", required=True, help="comparisons.parquet")
    p.add_argument("--csv", help="the same table as CSV (for the report)")
    p.set_defaults(func=_compare)

    p = sub.add_parser(
        "seeds-needed", help="seeds per cell to detect a difference in success rate; power"
    )
    p.add_argument(
        "--rates",
        nargs=2,
        type=_unit_interval(closed=True),
        action=_DistinctRates,
        default=[0.465, 0.87],
        metavar=("P_BASELINE", "P_OTHER"),
        help="success rates to tell apart (default: the paper's vanilla 46.5 %% vs 87 %%)",
    )
    p.add_argument("--power", type=_unit_interval(closed=False), default=0.8)
    p.add_argument(
        "--alpha",
        type=_unit_interval(closed=False),
        default=0.05,
        help="two-sided significance level of each comparison, before Holm",
    )
    p.add_argument(
        "--seeds",
        type=_positive(int),
        nargs="*",
        help="also print the power these seed counts give, and the rates they detect",
    )
    p.add_argument(
        "--comparisons", help="a study's comparisons.parquet: write its power table to --out"
    )
    p.add_argument(
        "--effect-size",
        type=_positive(float),
        default=0.8,
        help="image studies: Cohen's d of FID",
    )
    p.add_argument("--out", help="power table (CSV)")
    p.set_defaults(func=_seeds_needed)

    p = sub.add_parser("figure", help="draw one figure (PNG and PDF) from tables")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="PNG path; the PDF goes beside it")
    p.add_argument("--dataset", default="ring")
    p.add_argument("tables", nargs="+", help="input parquet file(s)")
    p.set_defaults(func=_figure)
    return parser


DEBUG_ENV = "GANSWEEP_DEBUG"


def main(argv: list[str] | None = None) -> None:
    from gansweep.errors import GansweepError
    from gansweep.joblock import JobLockedError

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except JobLockedError as exc:  # an expected situation: the message says what to do
        sys.exit(f"gansweep {args.command}: {exc}")
    except GansweepError as exc:  # bad input or a full disk: the message is the whole story
        if args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"gansweep {args.command}: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
