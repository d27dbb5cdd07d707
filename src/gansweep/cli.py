"""Command line the Snakemake rules call: ``gansweep <command> ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd


def _train_ring(args: argparse.Namespace) -> None:
    from gansweep.training.ring import run_job

    spec = json.loads(Path(args.spec).read_text()) if args.spec.endswith(".json") else json.loads(args.spec)
    run_job(spec, Path(args.runs), Path(args.samples), Path(args.checkpoint))


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gansweep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train-ring", help="train one job of a 2D study (many runs at once)")
    p.add_argument("--spec", required=True, help="job spec as JSON text or a .json file")
    p.add_argument("--runs", required=True, help="output parquet, one row per run × checkpoint")
    p.add_argument("--samples", required=True, help="output parquet of final samples")
    p.add_argument("--checkpoint", required=True, help="resumable checkpoint path")
    p.set_defaults(func=_train_ring)

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
