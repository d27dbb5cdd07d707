"""The Inception weights files: where they live, fetching them, and their SHA-256 check.

:func:`fetch_weights` (the Snakemake rule :data:`FETCH_RULE`, run on the head node) downloads the
official file, or copies it from a configured local path / ``file://`` URL on offline clusters,
into ``<weights_dir>/<file name>`` atomically and checks that its SHA-256 starts with the published
prefix (pytorch-fid itself checks nothing). :func:`verify_weights` checks it again before every
use. A missing or wrong file gives an error saying where to put it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from pathlib import Path

from gansweep.data import ChecksumError, DataMissingError, fetch
from gansweep.io import write_text
from gansweep.metrics.fid.protocols import spec

FETCH_RULE = "fetch_weights"  # the Snakemake rule that fetches weights (named in error messages)
_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")


class WeightsMissingError(DataMissingError):
    """The Inception weights file is absent or could not be fetched; the message says where to put it."""


class WeightsChecksumError(ChecksumError):
    """The weights file's SHA-256 does not start with the expected prefix."""


def log(message: str) -> None:
    print(f"[gansweep.fid] {message}", file=sys.stderr, flush=True)


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _prefix(metric: str, sha256_prefix: str | None) -> str:
    prefix = (sha256_prefix or spec(metric).sha256_prefix).strip().lower()
    if not _PREFIX.match(prefix):
        raise ValueError(f"a SHA-256 prefix is 8 to 64 lowercase hex digits, not {sha256_prefix!r}")
    return prefix


def _where_to_put(metric: str, path: Path) -> str:
    s = spec(metric)
    return (
        f"Fetch it with the Snakemake rule `{FETCH_RULE}` (gansweep.metrics.fid.fetch_weights("
        f"{metric!r}, {str(path.parent)!r}), which downloads {s.url}); on an offline cluster copy "
        f"the official file {s.file_name} (SHA-256 starting {s.sha256_prefix}) to {path}, or set "
        f"the config key fid.weights.{metric}.url to a local path or file:// URL of it"
    )


def weights_path(metric: str, weights_dir: str | os.PathLike) -> Path:
    """``<weights_dir>/<official file name>``: where :func:`fetch_weights` puts the file."""
    return Path(weights_dir) / spec(metric).file_name


def verify_weights(metric: str, path: str | os.PathLike, sha256_prefix: str | None = None) -> str:
    """Full SHA-256 of ``path`` after checking that it starts with the expected prefix (the
    official one unless ``sha256_prefix`` is given); clear errors when missing or wrong."""
    path = Path(path)
    prefix = _prefix(metric, sha256_prefix)
    if not path.is_file():
        raise WeightsMissingError(
            f"{metric} Inception weights not found at {path}. {_where_to_put(metric, path)}."
        )
    digest = sha256_of(path)
    if not digest.startswith(prefix):
        raise WeightsChecksumError(
            f"{metric} weights {path} have SHA-256 {digest}, expected a SHA-256 starting with {prefix}. "
            f"Replace the file: {_where_to_put(metric, path)} (stand-in weights for smoke runs need "
            f"fid.weights.{metric}.sha256_prefix set to their own hash)."
        )
    return digest


def _write_sidecar(path: Path, digest: str) -> None:
    write_text(f"{digest}  {path.name}\n", path.with_name(path.name + ".sha256"))


def fetch_weights(
    metric: str,
    weights_dir: str | os.PathLike,
    url: str | None = None,
    sha256_prefix: str | None = None,
) -> Path:
    """Put the verified weights of ``metric`` at ``<weights_dir>/<file name>``; returns that path.

    ``url`` (default: the official one) may be http(s), ``file://`` or a plain local path (offline
    clusters: a copy placed by hand). The bytes go to a hidden temp file next to the target, are
    hashed while streamed, and are renamed into place only when the SHA-256 starts with
    ``sha256_prefix`` (default: the official prefix); otherwise nothing is left behind and
    :class:`WeightsChecksumError` names the expected prefix, the actual hash and where to put the
    right file. A file already in place that verifies is kept (no download)."""
    s = spec(metric)
    prefix = _prefix(metric, sha256_prefix)
    dest = weights_path(metric, weights_dir)
    if dest.is_file():
        digest = sha256_of(dest)
        if digest.startswith(prefix):
            log(f"{dest} exists and its SHA-256 {digest} starts with {prefix}; fetch skipped")
            _write_sidecar(dest, digest)
            return dest
        log(f"{dest} exists but its SHA-256 {digest} does not start with {prefix}; fetching again")
    source = url or s.url
    part = dest.with_name(f".{dest.name}.part")
    part_sidecar = part.with_name(part.name + ".sha256")
    try:
        try:
            digest = fetch(source, part)["sha256"]
        except DataMissingError as err:
            raise WeightsMissingError(
                f"could not fetch the {metric} weights from {source}: {err.__cause__ or err}. "
                f"{_where_to_put(metric, dest)}."
            ) from err
        if not digest.startswith(prefix):
            raise WeightsChecksumError(
                f"{source} has SHA-256 {digest}, expected a SHA-256 starting with {prefix}; nothing was "
                f"written to {dest}. Put the right file ({s.file_name}, official URL {s.url}) at {dest} "
                f"or point fid.weights.{metric}.url at a verified copy."
            )
        os.replace(part, dest)
    finally:
        for leftover in (part, part_sidecar):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    _write_sidecar(dest, digest)
    log(f"{metric} weights verified (SHA-256 {digest}) at {dest}")
    return dest
