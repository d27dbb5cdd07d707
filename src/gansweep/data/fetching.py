"""Getting files: download (pooch), checksums, ``.sha256`` records, moving bad files aside.

:func:`fetch` hands the transfer to ``pooch.retrieve`` (temp file in the destination folder,
pinned-hash check, rename; a progress bar in a terminal, a plain line every 30 s in a log
file). pooch has no ``file://`` downloader, so local mirrors (``file://`` URLs and plain
paths, used offline and by the tests) go through the same call with :func:`_copy_local` as
the downloader. Around it we keep what pooch does not do: MD5 *and* SHA-256 checked
together, fsync before the rename, the ``<file>.sha256`` record, and errors that name the
URL, the destination and what to do.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import logging
import os
import shutil
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pooch

import gansweep
from gansweep.data.errors import ChecksumError, DataMissingError
from gansweep.io import atomic_path

REMOTE_SCHEMES = ("http", "https", "ftp")


def log(message: str) -> None:
    print(f"[gansweep.data] {message}", file=sys.stderr, flush=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path: Path, directory: bool = False) -> None:
    """mkstemp/mkdtemp create 0600/0700 files; give the final file the usual umask mode so a
    shared data root stays readable by the group."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def file_digests(path: str | os.PathLike, chunk: int = 1 << 20) -> dict[str, str]:
    """MD5 and SHA-256 (hex) of a file, read once."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def mismatch(digests: dict[str, str], md5: str | None, sha256: str | None) -> str | None:
    """A message naming expected vs actual, or None when every given checksum matches."""
    wrong = []
    for algo, want in (("md5", md5), ("sha256", sha256)):
        if want and digests[algo].lower() != want.strip().lower():
            wrong.append(f"{algo} expected {want.strip().lower()}, got {digests[algo]}")
    return "; ".join(wrong) or None


def as_url(url: str) -> str:
    """Accept http(s)/ftp/file URLs and plain local paths (for tests and offline mirrors)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if len(scheme) > 1:  # not a Windows drive letter
        return url
    return Path(url).expanduser().resolve().as_uri()


# -- the ``<file>.sha256`` record: written only for a file that passed every check -------------


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_sidecar(path: Path, sha256: str) -> None:
    """``<file>.sha256`` in sha256sum format: what was downloaded and verified."""
    with atomic_path(sidecar(path)) as tmp:
        tmp.write_text(f"{sha256}  {path.name}\n")
        publish_mode(tmp)


def read_sidecar(path: Path) -> str | None:
    record = sidecar(path)
    if not record.is_file():
        return None
    text = record.read_text().split()
    return text[0].lower() if text else None


def move_aside(path: Path, suffix: str = ".rejected") -> Path:
    """Rename a file or folder that failed verification to ``<path><suffix>`` (replacing an
    older one) and drop its ``.sha256`` record, so nothing trusts it again; returns the new path."""
    target = path.with_name(path.name + suffix)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    os.replace(path, target)
    sidecar(path).unlink(missing_ok=True)
    return target


def existing_ok(path: Path, md5: str | None, sha256: str | None, record: bool = True) -> bool:
    """True when ``path`` exists and matches the given checksums, or, with none given, the
    ``.sha256`` record written when it was downloaded and verified. A file with neither is
    accepted (downloads are atomic, so it is not a partial one of ours) and, with ``record``,
    gets a record; callers that verify the content themselves pass ``record=False``."""
    if not path.is_file():
        return False
    digests = file_digests(path)
    pinned_sha = sha256 or (None if md5 else read_sidecar(path))
    problem = mismatch(digests, md5, pinned_sha)
    if problem:
        log(f"{path} exists but does not verify ({problem}); downloading again")
        return False
    if record and read_sidecar(path) != digests["sha256"]:
        write_sidecar(path, digests["sha256"])
    log(f"{path} exists and verifies; download skipped")
    return True


# -- transfer -------------------------------------------------------------------------------


class _LogProgress:
    """pooch's progress-bar protocol (``total``, ``update``, ``reset``, ``close``) as a plain
    line every ``every`` seconds: what a log file should get instead of a redrawn bar."""

    def __init__(self, every: float = 30.0) -> None:
        self.total, self.done, self.every = 0, 0, every
        self._last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            share = (
                f" ({100 * min(self.done, self.total) / self.total:.0f} %)" if self.total else ""
            )
            log(f"  {self.done / 2**20:,.0f} MiB{share}")

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def _copy_local(url: str, output_file: str, pooch_instance: object = None) -> None:
    """A pooch downloader for ``file://`` URLs (pooch has none)."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise DataMissingError(f"file URL {url} names a remote host; mount it or use http(s)")
    with open(urllib.request.url2pathname(parts.path), "rb") as src, open(output_file, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)


def _downloader(source: str, timeout: float):
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    progress = (
        True if sys.stderr.isatty() and _has_tqdm() else _LogProgress()
    )  # pooch draws bars with tqdm
    if scheme == "file":
        return _copy_local
    if scheme in ("http", "https"):
        agent = {"User-Agent": f"gansweep/{gansweep.__version__}"}
        return pooch.HTTPDownloader(progressbar=progress, timeout=timeout, headers=agent)
    if scheme == "ftp":
        return pooch.FTPDownloader(progressbar=progress, timeout=timeout)
    raise DataMissingError(
        f"cannot download {source}: use an http(s)://, ftp:// or file:// URL or a local path"
    )


def _has_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """pooch logs at INFO, and tells the user to pin the SHA-256 through *its* API; we log ourselves."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def fetch(
    url: str,
    dest: str | os.PathLike,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    record: bool = True,
) -> dict[str, str]:
    """Download ``url`` (http(s), ftp, file:// or a local path) to ``dest`` atomically, verify
    the given checksums, and with ``record`` write ``dest.sha256``.

    On a checksum mismatch nothing is written and :class:`ChecksumError` names expected vs
    actual and the URL; an unreachable source raises :class:`DataMissingError` naming ``dest``.
    Returns the MD5 and SHA-256 of what was downloaded.
    """
    dest = Path(dest)
    source = as_url(url)
    downloader = _downloader(source, timeout)
    known = (
        f"sha256:{sha256.strip().lower()}"
        if sha256
        else (f"md5:{md5.strip().lower()}" if md5 else None)
    )
    log(f"downloading {source} -> {dest}")
    with atomic_path(dest) as staged:
        # pooch downloads to its own temp file beside ``staged`` and renames it to ``staged``
        # only when ``known`` matches; ``atomic_path`` then renames ``staged`` to ``dest`` only
        # when the remaining checks pass too.
        staged.unlink()
        try:
            with _quiet_pooch():
                pooch.retrieve(
                    source, known, fname=staged.name, path=staged.parent, downloader=downloader
                )
        except ValueError as err:  # pooch's hash mismatch (the scheme was checked above)
            raise ChecksumError(
                f"checksum mismatch for {source}: {err} Nothing was written to {dest}."
            ) from err
        except (OSError, ftplib.Error, _requests_error()) as err:
            raise DataMissingError(
                f"could not download {source}: {err}. Fetch it by other means and place it at {dest}"
            ) from err
        digests = file_digests(staged)
        if problem := mismatch(digests, md5, sha256):
            raise ChecksumError(
                f"checksum mismatch for {source}: {problem}; nothing was written to {dest}"
            )
        with open(staged, "rb+") as f:
            os.fsync(f.fileno())
        publish_mode(staged)
    if record:
        write_sidecar(dest, digests["sha256"])
    log(f"  done: {dest.stat().st_size:,} bytes, md5 {digests['md5']}, sha256 {digests['sha256']}")
    return digests


def _requests_error() -> type[BaseException]:
    import requests

    return requests.exceptions.RequestException
