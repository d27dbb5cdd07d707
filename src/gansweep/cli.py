"""Command line the Snakemake rules call: ``gansweep <command> ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd


def _train_ring(args: argparse.Namespace) -> None:
    from gansweep.training.ring import run_job

    spec = json.loads(Path(args.spec).read_text())
    run_job(spec, Path(args.runs), Path(args.samples), Path(args.checkpoint))


def _train_image(args: argparse.Namespace) -> None:
    from gansweep.training.image import run_image_job

    run_image_job(json.loads(Path(args.spec).read_text()), Path(args.out_dir))


def _aggregate_training(args: argparse.Namespace) -> None:
    from gansweep.io import write_parquet

    out = {"runs": [], "log": [], "grads": []}
    for runs_path in map(Path, args.jobs):
        for kind in out:
            table = pd.read_parquet(runs_path.with_name(f"{kind}.parquet"))
            out[kind].append(table.assign(job=runs_path.parent.name))
    for kind, frames in out.items():
        write_parquet(pd.concat(frames, ignore_index=True), getattr(args, kind))
    print(f"{sum(map(len, out['runs']))} runs aggregated", file=sys.stderr)


def _download(args: argparse.Namespace) -> None:
    from gansweep.data.images import download
    from gansweep.io import write_text

    path = download(args.name, args.data_root, url=args.url, md5=args.md5, sha256=args.sha256)
    record = {"dataset": args.name, "path": str(path), "url": args.url, "md5": args.md5, "sha256": args.sha256}
    write_text(json.dumps(record, indent=1), Path(args.data_root) / args.name / "download.json")


def _prepare(args: argparse.Namespace) -> None:
    from gansweep.data.images import prepare

    prepare(args.name, args.data_root, split_seed=args.split_seed, train_fraction=args.train_fraction,
            workers=args.workers, force=args.force)  # fmt: skip


def _fetch_weights(args: argparse.Namespace) -> None:
    from gansweep.metrics.fid import fetch_weights

    fetch_weights(args.metric, args.weights_dir, url=args.url, sha256_prefix=args.sha256_prefix)


def _reference_stats(args: argparse.Namespace) -> None:
    import torch

    from gansweep.metrics.fid import compute_reference_stats

    torch.set_num_threads(args.threads)
    compute_reference_stats(args.metric, args.dataset, args.data_root, args.split, args.weights,
                            args.out, device=args.device, batch_size=args.batch_size,
                            sha256_prefix=args.sha256_prefix)  # fmt: skip


def _evaluate_image(args: argparse.Namespace) -> None:
    import torch

    from gansweep.evaluation import evaluate_image_job

    torch.set_num_threads(args.threads)
    spec = json.loads(Path(args.spec).read_text())
    spec["eval"] = {"seed": args.eval_seed, "n_samples": args.n_samples,
                    "metrics": [m for m, _, _ in args.metric]}  # fmt: skip
    evaluate_image_job(
        spec, Path(args.job_dir),
        references={m: Path(ref) for m, ref, _ in args.metric},
        weights={m: Path(w) for m, _, w in args.metric},
        out_table=Path(args.out), out_images=Path(args.images), device=args.device,
        batch_size=args.batch_size, weights_sha256=dict(args.sha256_prefix or []),
    )  # fmt: skip


def _aggregate_image(args: argparse.Namespace) -> None:
    from gansweep.io import write_parquet
    from gansweep.tables import summarize_fid, with_diverged_runs

    evals = pd.concat([pd.read_parquet(p) for p in args.evals], ignore_index=True)
    runs = with_diverged_runs(evals, pd.read_parquet(args.train_runs))
    runs = runs.sort_values(["cell", "seed", "step"], ignore_index=True)
    write_parquet(runs, args.runs)
    summaries = [summarize_fid(runs, m) for m in ("fid", "fid_tv_logits") if m in runs]
    summary = summaries[0]
    for extra in summaries[1:]:
        summary = summary.merge(extra, on=[c for c in summary.columns if c in extra.columns
                                           and not c.startswith("fid")], how="outer")  # fmt: skip
    write_parquet(summary, args.summary)


def _image_figure(args: argparse.Namespace) -> None:
    import numpy as np

    from gansweep.figures.images import FIGURES
    from gansweep.figures.registry import IMAGE_FIGURE_INPUTS

    tables, images = {}, {}
    for path in map(Path, args.inputs):
        if path.suffix == ".npz":  # results/<study>/runs/<cell>/<job>/images.npz
            with np.load(path) as arrays:
                for key in arrays.files:
                    seed, name = key.split("/")
                    images.setdefault(path.parent.parent.name, {}).setdefault(int(seed[4:]), {})[name] = arrays[key]
        else:
            tables[path.stem] = pd.read_parquet(path)
    needs = IMAGE_FIGURE_INPUTS[args.name]
    data = [images if n == "images" else tables[n] for n in needs]
    FIGURES[args.name](*data, Path(args.out).with_suffix(""))


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

    table = compare_with_paper(pd.read_parquet(args.summary))
    write_text(table.to_csv(index=False, float_format="%.4g"), args.out)
    inside = int(table["paper_inside_ci"].sum()) if len(table) else 0
    print(f"{len(table)} paper numbers matched; {inside} inside our 95 % CI", file=sys.stderr)


def _figure(args: argparse.Namespace) -> None:
    from gansweep.data import DATASETS
    from gansweep.figures.ring import FIGURES

    stem = Path(args.out).with_suffix("")
    if args.name == "sample_scatter":
        mixture = DATASETS[args.dataset]()
        modes = pd.DataFrame(mixture.means.numpy(), columns=["x", "y"])
        samples = pd.concat([pd.read_parquet(p) for p in args.tables], ignore_index=True)
        FIGURES[args.name](samples, modes, mixture.std, stem)
    else:
        FIGURES[args.name](pd.read_parquet(args.tables[0]), stem)


def add_inception_run_args(p: argparse.ArgumentParser) -> None:
    """Where and how the Inception network runs (reference statistics and evaluation alike)."""
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gansweep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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
    p.add_argument("--metric", nargs=3, action="append", required=True,
                   metavar=("NAME", "REFERENCE_STATS", "WEIGHTS"))  # fmt: skip
    p.add_argument("--sha256-prefix", nargs=2, action="append", metavar=("NAME", "PREFIX"))
    p.add_argument("--n-samples", type=int, required=True)
    p.add_argument("--eval-seed", type=int, required=True)
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

    p = sub.add_parser("figure", help="draw one figure (PNG and PDF) from tables")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="PNG path; the PDF goes beside it")
    p.add_argument("--dataset", default="ring")
    p.add_argument("tables", nargs="+", help="input parquet file(s)")
    p.set_defaults(func=_figure)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
