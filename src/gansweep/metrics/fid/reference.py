"""Cached reference statistics: one npz per (metric, dataset, split) with the mean, covariance,
a kept sample of real features (for precision / recall / density / coverage and KID) and the
protocol that made them."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gansweep
from gansweep.data import prepared_meta_path
from gansweep.errors import InputError
from gansweep.io import write_bytes
from gansweep.metrics.fid.extractor import FeatureExtractor, load_extractor, resolve_device
from gansweep.metrics.fid.protocols import spec
from gansweep.metrics.fid.statistics import (
    REFERENCE_FEATURES,
    REFERENCE_FEATURES_SEED,
    reference_stats,
)
from gansweep.metrics.fid.weights import log

REFERENCE_RULE = "reference_stats"  # the Snakemake rule that writes reference statistics


def save_stats(
    path: str | os.PathLike,
    mu: Any,
    sigma: Any,
    n: int,
    protocol: dict,
    features: np.ndarray | None = None,
) -> Path:
    """npz (keys ``mu``, ``sigma`` as pytorch-fid reads them, plus ``n``, ``protocol`` as a JSON
    string and, if given, ``features`` float32 [k, dims]), written atomically."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1 or sigma.shape != mu.shape * 2:
        raise ValueError(f"mu {mu.shape} and sigma {sigma.shape} are not a mean and its covariance")
    extra = {}
    if features is not None:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != mu.shape[0]:
            raise ValueError(f"features {features.shape} do not match {mu.shape[0]} dims")
        extra["features"] = features
    record = {**protocol, "n": int(n), "dims": int(mu.shape[0])}
    path = Path(path)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        mu=mu,
        sigma=sigma,
        n=np.int64(n),
        protocol=np.array(json.dumps(record, sort_keys=True)),
        **extra,
    )
    write_bytes(buffer.getvalue(), path)
    return path


def load_stats(path: str | os.PathLike, features: bool = False) -> dict[str, Any]:
    """``{"mu", "sigma", "n", "protocol"}`` from :func:`save_stats` (``protocol`` a dict); with
    ``features=True`` also ``"features"`` (None when the file holds none). A missing or
    unreadable file is an InputError naming it."""
    what = "reference statistics file (gansweep reference-stats writes it)"
    if not Path(path).is_file():
        raise InputError(path, f"no such file (expected a {what})")
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise InputError(path, f"not a readable npz ({err}); expected a {what}") from err
    if not {"mu", "sigma"} <= set(f.files):
        f.close()
        raise InputError(
            path, f"lacks arrays mu, sigma (it has {', '.join(f.files)}); expected a {what}"
        )
    with f:
        out = {"mu": f["mu"].astype(np.float64), "sigma": f["sigma"].astype(np.float64)}
        out["n"] = int(f["n"]) if "n" in f else None
        out["protocol"] = json.loads(str(f["protocol"])) if "protocol" in f else {}
        if features:
            out["features"] = f["features"] if "features" in f else None
    return out


def check_compatible(ref: dict[str, Any], extractor: FeatureExtractor) -> None:
    """Raise unless reference statistics were made with this extractor's metric and weights."""
    proto = ref.get("protocol", {})
    problems = [
        f"{key} {proto.get(key)!r} vs extractor {value!r}"
        for key, value in (
            ("metric", extractor.metric),
            ("weights_sha256", extractor.weights_sha256),
        )
        if proto.get(key) != value
    ]
    if ref["mu"].shape != (extractor.dims,):
        problems.append(f"dims {ref['mu'].shape} vs {extractor.dims}")
    if problems:
        raise ValueError(
            "reference statistics do not match the feature extractor: " + "; ".join(problems)
        )


def reference_stats_name(
    metric: str, dataset: str, split: str, resolution: int, weights_sha256: str
) -> str:
    """File name encoding everything the statistics depend on, e.g. ``fid_cifar10_train_32px_6726825d.npz``."""
    return f"{metric}_{dataset}_{split}_{resolution}px_{weights_sha256[:8]}.npz"


def _library_versions() -> dict[str, str]:
    import scipy
    import torchvision

    try:
        import pytorch_fid

        fid_version = pytorch_fid.__version__
    except Exception:  # pragma: no cover
        fid_version = "unknown"
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pytorch_fid": fid_version,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def compute_reference_stats(
    metric: str,
    dataset: str,
    data_root: str | os.PathLike,
    split: str | None,
    weights_path: str | os.PathLike,
    out_path: str | os.PathLike,
    device: str | torch.device = "auto",
    batch_size: int = 200,
    max_images: int | None = None,
    sha256_prefix: str | None = None,
    keep_features: int = REFERENCE_FEATURES,
) -> dict[str, Any]:
    """The reference-statistics rule: stream one prepared split through ``metric``'s extractor and
    write ``out_path`` (npz with its protocol and ``keep_features`` real features); returns the
    protocol. ``split`` None = the metric's convention (train for ``fid``, test for ``fid_tv_logits``)."""
    split = split or spec(metric).default_split
    device = resolve_device(device)
    started = time.monotonic()
    extractor = load_extractor(metric, weights_path, device, sha256_prefix)
    mu, sigma, n, features = reference_stats(
        metric,
        dataset,
        data_root,
        split,
        None,
        device,
        batch_size,
        max_images,
        extractor=extractor,
        keep_features=keep_features,
    )
    meta = json.loads(prepared_meta_path(dataset, data_root).read_text())
    record = {
        **extractor.protocol(),
        "dataset": dataset,
        "split": split,
        "resolution": int(meta["resolution"]),
        "n": int(n),
        "n_split": int(meta["counts"][split]),
        "max_images": max_images,
        "n_features_kept": int(len(features)),
        "features_seed": REFERENCE_FEATURES_SEED,
        "input": "prepared uint8 arrays / 255 (generated images: [-1,1] quantised to uint8, / 255)",
        "data": {
            "settings": meta.get("settings"),
            "content_sha256": meta.get("content_sha256"),
            "source_md5": [f.get("md5") for f in (meta.get("source") or {}).get("files", [])],
        },
        "gansweep_version": gansweep.__version__,
        "versions": _library_versions(),
        "device": str(device),
        "seconds": round(time.monotonic() - started, 1),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_stats(out_path, mu, sigma, n, record, features if len(features) else None)
    log(
        f"{metric} reference statistics of {dataset} {split} ({n:,} images, {mu.shape[0]}-d, "
        f"{len(features):,} features kept) -> {out_path}"
    )
    return record
