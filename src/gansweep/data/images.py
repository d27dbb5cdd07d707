"""Image datasets of the journal experiments: CIFAR-10 32×32, CelebA 64×64, LSUN classroom 112×112.

Three steps, each a function of ``(name, data_root)``:

``download``  fetches the official archive into ``<data_root>/<name>/`` (atomic: temp file in the
              same folder, checksum, ``os.replace``) and skips work already done.
``prepare``   decodes once into memory-mappable uint8 arrays ``<data_root>/<name>/prepared/
              {train,test}_images.npy`` [N, H, W, 3] (+ ``{train,test}_labels.npy`` int64 for
              CIFAR-10) and writes ``prepared/meta.json`` last, which marks completion.
``load_split`` memory-maps one split; ``ImageArrays.batch`` turns indices into model input
              (float NCHW in [−1, 1]).

Preprocessing follows the (αD, αG)-GAN authors (protocol §4): CelebA is ``ImageFolder`` over
img_align_celeba (sorted file names), LSUN classroom the lmdb in key order, both
``Resize(s)`` (shorter side, bilinear, antialiased, on PIL) then ``CenterCrop(s)``, then the
80/20 split of ``random_split`` with lengths ``[int(0.8 n), n − int(0.8 n)]`` and the permutation
``torch.randperm(n, generator=torch.Generator().manual_seed(1))`` (first part = train).
CIFAR-10 keeps its official 50,000 / 10,000 split.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

import gansweep
from gansweep.data.toy2d import DATASETS
from gansweep.io import atomic_path, write_text

SPLITS = ("train", "test")
PREPARED = "prepared"
META = "meta.json"
# Bump when the bytes ``prepare`` writes would change for the same input and settings.
PREPARE_FORMAT = 1
_CHUNK = 256  # images per decode task


class ChecksumError(ValueError):
    """A downloaded or existing file does not have the expected checksum."""


class DataMissingError(FileNotFoundError):
    """Raw or prepared files are absent; the message names the paths and how to get them."""


# --------------------------------------------------------------------------------------------
# Small helpers: hashing, permissions, fetching
# --------------------------------------------------------------------------------------------


def file_digests(path: str | os.PathLike, chunk: int = 1 << 20) -> dict[str, str]:
    """MD5 and SHA-256 (hex) of a file, read once."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _mismatch(digests: dict[str, str], md5: str | None, sha256: str | None) -> str | None:
    """A message naming expected vs actual, or None when every given checksum matches."""
    wrong = []
    for algo, want in (("md5", md5), ("sha256", sha256)):
        if want and digests[algo].lower() != want.strip().lower():
            wrong.append(f"{algo} expected {want.strip().lower()}, got {digests[algo]}")
    return "; ".join(wrong) or None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, directory: bool = False) -> None:
    """mkstemp/mkdtemp create 0600/0700 files; give the final file the usual umask mode so a
    shared data root stays readable by the group."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def _as_url(url: str) -> str:
    """Accept http(s)/ftp/file URLs and plain local paths (for tests and offline mirrors)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if len(scheme) > 1:  # not a Windows drive letter
        return url
    return Path(url).expanduser().resolve().as_uri()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_sidecar(path: Path, sha256: str) -> None:
    """``<file>.sha256`` in sha256sum format: what was downloaded and verified."""
    sidecar = _sidecar(path)
    with atomic_path(sidecar) as tmp:
        tmp.write_text(f"{sha256}  {path.name}\n")
        _publish_mode(tmp)


def _read_sidecar(path: Path) -> str | None:
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        return None
    text = sidecar.read_text().split()
    return text[0].lower() if text else None


def _log(message: str) -> None:
    print(f"[gansweep.data] {message}", file=sys.stderr, flush=True)


def fetch(
    url: str,
    dest: str | os.PathLike,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Stream ``url`` to ``dest`` atomically, verify the given checksums, write ``dest.sha256``.

    The bytes go to a temp file in ``dest``'s folder; on a checksum mismatch the temp file is
    deleted and :class:`ChecksumError` names expected vs actual and the URL; only a verified
    file is renamed to ``dest``. Returns the MD5 and SHA-256 of what was downloaded.
    """
    dest = Path(dest)
    source = _as_url(url)
    request = urllib.request.Request(source, headers={"User-Agent": f"gansweep/{gansweep.__version__}"})
    md5_h, sha_h = hashlib.md5(), hashlib.sha256()
    _log(f"downloading {source} -> {dest}")
    with atomic_path(dest) as tmp:
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except OSError as err:  # URLError, HTTPError, FileNotFoundError, timeouts
            raise DataMissingError(
                f"could not download {source}: {err}. Fetch it by other means and place it at {dest}"
            ) from err
        with response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, last = 0, time.monotonic()
            while block := response.read(1 << 20):
                out.write(block)
                md5_h.update(block)
                sha_h.update(block)
                done += len(block)
                if time.monotonic() - last > 10:
                    last = time.monotonic()
                    share = f" ({100 * done / total:.0f} %)" if total else ""
                    _log(f"  {done / 2**20:,.0f} MiB{share}")
            out.flush()
            os.fsync(out.fileno())
        digests = {"md5": md5_h.hexdigest(), "sha256": sha_h.hexdigest()}
        if total and done != total:
            raise DataMissingError(f"download of {source} stopped after {done} of {total} bytes")
        if problem := _mismatch(digests, md5, sha256):
            raise ChecksumError(f"checksum mismatch for {source}: {problem}; nothing was written to {dest}")
        _publish_mode(tmp)
    _write_sidecar(dest, digests["sha256"])
    _log(f"  done: {done:,} bytes, md5 {digests['md5']}, sha256 {digests['sha256']}")
    return digests


def _existing_ok(path: Path, md5: str | None, sha256: str | None) -> bool:
    """True when ``path`` exists and matches the given checksums, or, with none given, the
    ``.sha256`` sidecar recorded when it was downloaded (a file without either is accepted and
    gets a sidecar: downloads are atomic, so it is not a partial one of ours)."""
    if not path.is_file():
        return False
    digests = file_digests(path)
    pinned_sha = sha256 or (None if md5 else _read_sidecar(path))
    problem = _mismatch(digests, md5, pinned_sha)
    if problem:
        _log(f"{path} exists but does not verify ({problem}); downloading again")
        return False
    if _read_sidecar(path) != digests["sha256"]:
        _write_sidecar(path, digests["sha256"])
    _log(f"{path} exists and verifies; download skipped")
    return True


# --------------------------------------------------------------------------------------------
# Decoding (CelebA, LSUN): PIL -> Resize(s) -> CenterCrop(s) -> uint8 HWC
# --------------------------------------------------------------------------------------------


def resize_center_crop(img: Any, size: int) -> np.ndarray:
    """``transforms.Resize(size)`` then ``CenterCrop(size)`` on a PIL image, as the authors'
    pipeline, returned as uint8 [size, size, 3] (RGB)."""
    import torchvision.transforms.functional as TF

    img = img.convert("RGB")
    img = TF.resize(img, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    img = TF.center_crop(img, size)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.shape != (size, size, 3):
        raise ValueError(f"resize/crop produced {arr.shape}, expected {(size, size, 3)}")
    return arr


def decode_image(data: bytes, size: int) -> np.ndarray:
    """Encoded image bytes (JPEG, WebP, PNG...) -> uint8 [size, size, 3]."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return resize_center_crop(img, size)


_READERS: dict[tuple, Callable[[Any], bytes]] = {}
_HANDLES: list[Any] = []


def _reader(spec: tuple) -> Callable[[Any], bytes]:
    """Per-process reader of raw record bytes; handles (zip, lmdb) are never shared by a fork."""
    key = (os.getpid(), spec)
    if key in _READERS:
        return _READERS[key]
    kind, path = spec
    if kind == "dir":
        root = Path(path)

        def read(name: str) -> bytes:
            return (root / name).read_bytes()

    elif kind == "zip":
        zf = zipfile.ZipFile(path)
        _HANDLES.append(zf)
        read = zf.read
    elif kind == "lmdb":
        env = _open_lmdb(Path(path))
        _HANDLES.append(env)
        txn = env.begin(write=False, buffers=False)

        def read(k: bytes) -> bytes:
            value = txn.get(k)
            if value is None:
                raise KeyError(f"lmdb {path} has no key {k!r}")
            return value

    else:
        raise ValueError(f"unknown record kind {kind!r}")
    _READERS[key] = read
    return read


def _close_readers() -> None:
    for handle in _HANDLES:
        with contextlib.suppress(Exception):
            handle.close()
    _HANDLES.clear()
    _READERS.clear()


def _decode_chunk(task: tuple) -> tuple[np.ndarray, bytes]:
    """Decode a chunk of records; returns uint8 [k, s, s, 3] and the concatenated per-record
    MD5 digests (16 bytes each) of the raw bytes, for the content checksum in meta.json."""
    spec, keys, size = task
    read = _reader(spec)
    out = np.empty((len(keys), size, size, 3), dtype=np.uint8)
    digests = bytearray()
    for i, k in enumerate(keys):
        data = read(k)
        digests += hashlib.md5(data).digest()
        try:
            out[i] = decode_image(data, size)
        except Exception as err:
            raise ValueError(f"cannot decode record {k!r} of {spec[1]}: {err}") from err
    return out, bytes(digests)


def _open_lmdb(path: Path):
    try:
        import lmdb
    except ModuleNotFoundError as err:  # pragma: no cover - lmdb is installed with the project
        raise ModuleNotFoundError("reading LSUN needs the 'lmdb' package: pip install lmdb") from err
    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=1)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def split_indices(n: int, seed: int = 1, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """``random_split(range(n), [int(f n), n − int(f n)], generator=Generator().manual_seed(seed))``
    as index arrays (int64): train = first ``int(f n)`` entries of ``randperm``, test = the rest."""
    n_train = int(train_fraction * n)
    if not 0 < n_train < n:
        raise ValueError(f"a {train_fraction} split of {n} images leaves an empty part")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy().astype(np.int64)
    return perm[:n_train], perm[n_train:]


@contextlib.contextmanager
def _atomic_memmaps(paths: dict[str, Path], shapes: dict[str, tuple]) -> Iterator[dict[str, np.memmap]]:
    """Preallocated uint8 .npy memmaps in temp files, flushed, fsynced and renamed on success."""
    with contextlib.ExitStack() as stack:
        tmps = {k: stack.enter_context(atomic_path(p)) for k, p in paths.items()}
        maps = {
            k: np.lib.format.open_memmap(tmps[k], mode="w+", dtype=np.uint8, shape=shapes[k]) for k in paths
        }
        yield maps
        for mm in maps.values():
            mm.flush()
        maps.clear()  # unmaps (the caller holds no other reference)
        for tmp in tmps.values():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            _publish_mode(tmp)


def _save_npy(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array))
            f.flush()
            os.fsync(f.fileno())
        _publish_mode(tmp)


def _decode_split(
    spec: tuple,
    keys: Sequence[Any],
    size: int,
    out_dir: Path,
    seed: int,
    train_fraction: float,
    workers: int,
) -> dict[str, Any]:
    """Decode all records into the train/test memmaps at their split positions; return the
    split facts and the content digest for meta.json."""
    n = len(keys)
    train_idx, test_idx = split_indices(n, seed, train_fraction)
    n_train = len(train_idx)
    rank = np.empty(n, dtype=np.int64)  # natural index -> position in the permutation
    rank[np.concatenate([train_idx, test_idx])] = np.arange(n)
    tasks = [(spec, list(keys[s : s + _CHUNK]), size) for s in range(0, n, _CHUNK)]
    paths = {s: out_dir / f"{s}_images.npy" for s in SPLITS}
    shapes = {"train": (n_train, size, size, 3), "test": (n - n_train, size, size, 3)}
    content = hashlib.sha256()
    workers = max(1, min(workers, len(tasks)))
    _log(f"decoding {n:,} images of {spec[1]} to {size}×{size} with {workers} worker(s)")
    start = last = time.monotonic()
    with _atomic_memmaps(paths, shapes) as maps, contextlib.ExitStack() as stack:
        stack.callback(_close_readers)  # in-process readers (workers == 1)
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context().Pool(workers))
            results: Iterable = pool.imap(_decode_chunk, tasks)
        else:
            results = map(_decode_chunk, tasks)
        for t, (arr, digests) in enumerate(results):
            lo = t * _CHUNK
            r = rank[lo : lo + len(arr)]
            in_train = r < n_train
            maps["train"][r[in_train]] = arr[in_train]
            maps["test"][r[~in_train] - n_train] = arr[~in_train]
            content.update(digests)
            if time.monotonic() - last > 30:
                last = time.monotonic()
                done = lo + len(arr)
                _log(f"  {done:,}/{n:,} images, {done / (last - start):,.0f}/s")
    _save_npy(train_idx, out_dir / "train_indices.npy")
    _save_npy(test_idx, out_dir / "test_indices.npy")
    return {
        "counts": {"train": n_train, "test": n - n_train},
        "n_images": n,
        "content_sha256": content.hexdigest(),
        "split": {
            "rule": "torch.utils.data.random_split with lengths [int(f*n), n-int(f*n)]: "
            "perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)); "
            "train = perm[:int(f*n)], test = perm[int(f*n):] (indices into the sorted source order, "
            "saved as {train,test}_indices.npy)",
            "seed": seed,
            "train_fraction": train_fraction,
        },
    }


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ImageSource:
    """One image data set: where it comes from, how it is decoded, where it lives on disk."""

    name: str
    resolution: int
    n_classes: int
    url: str  # official download URL of ``archive``
    archive: str  # file name of the download under <data_root>/<name>/
    md5: str | None  # published checksum of ``archive``; None where none is published
    n_images: int  # official number of images (all splits)
    homepage: str
    kind: str = field(default="image", init=False)

    # -- paths --------------------------------------------------------------------------------
    def raw_dir(self, data_root: str | os.PathLike) -> Path:
        return Path(data_root) / self.name

    def archive_path(self, data_root: str | os.PathLike) -> Path:
        return self.raw_dir(data_root) / self.archive

    def prepared_dir(self, data_root: str | os.PathLike) -> Path:
        return self.raw_dir(data_root) / PREPARED

    def prepared_files(self, data_root: str | os.PathLike) -> list[Path]:
        """Everything ``prepare`` writes; ``meta.json`` (written last) is the last entry."""
        d = self.prepared_dir(data_root)
        files = [d / f"{s}_images.npy" for s in SPLITS]
        if self.n_classes:
            files += [d / f"{s}_labels.npy" for s in SPLITS]
        return files + [d / META]

    def describe_preprocessing(self) -> str:
        raise NotImplementedError

    # -- steps --------------------------------------------------------------------------------
    def download(
        self, data_root: str | os.PathLike, url: str | None = None, md5: str | None = None, sha256: str | None = None
    ) -> Path:
        """Fetch the official archive (or ``url``, checked against ``md5``/``sha256``, the
        published MD5 by default) into ``archive_path``; skip when it exists and verifies."""
        dest = self.archive_path(data_root)
        md5 = md5 or (None if sha256 else self.md5)
        if not _existing_ok(dest, md5, sha256):
            fetch(url or self.url, dest, md5=md5, sha256=sha256)
        return dest

    def prepare(
        self,
        data_root: str | os.PathLike,
        split_seed: int = 1,
        train_fraction: float = 0.8,
        workers: int | None = None,
        force: bool = False,
    ) -> Path:
        """Decode once into ``prepared/``; returns the path of ``meta.json``. Skipped when a
        complete preparation with the same settings exists (``force`` redoes it)."""
        out = self.prepared_dir(data_root)
        settings = self._settings(split_seed, train_fraction)
        meta_path = out / META
        if not force and meta_path.is_file() and all(p.is_file() for p in self.prepared_files(data_root)):
            meta = json.loads(meta_path.read_text())
            if meta.get("settings") == settings:
                _log(f"{out} is already prepared with these settings; skipped")
                return meta_path
        out.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # incomplete from here until it is written again
        started = time.monotonic()
        facts = self._write_arrays(
            Path(data_root), out, split_seed, train_fraction, default_workers() if workers is None else workers
        )
        files = {}
        for p in self.prepared_files(data_root)[:-1] + [out / f"{s}_indices.npy" for s in SPLITS]:
            if p.is_file():
                arr = np.load(p, mmap_mode="r")
                files[p.name] = {"shape": list(arr.shape), "dtype": str(arr.dtype), "bytes": p.stat().st_size}
        meta = {
            "dataset": self.name,
            "settings": settings,
            "resolution": self.resolution,
            "n_classes": self.n_classes,
            "layout": "uint8 [N, H, W, 3] RGB (NHWC), C-contiguous .npy; labels int64 [N]",
            "model_input": "x = v / 127.5 - 1 as float NCHW (ImageArrays.batch)",
            "preprocessing": self.describe_preprocessing(),
            **facts,
            "files": files,
            "gansweep_version": gansweep.__version__,
            "versions": _library_versions(),
            "seconds": round(time.monotonic() - started, 1),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_text(json.dumps(meta, indent=2) + "\n", meta_path)
        _publish_mode(meta_path)
        _log(f"prepared {self.name}: {facts['counts']} -> {out}")
        return meta_path

    def load_split(self, data_root: str | os.PathLike, split: str) -> "ImageArrays":
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        files = self.prepared_files(data_root)
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise DataMissingError(
                f"{self.name} is not prepared under {self.prepared_dir(data_root)}: missing "
                + ", ".join(missing)
                + f". Create them with `gansweep download {self.name} --data-root {data_root}` then "
                f"`gansweep prepare {self.name} --data-root {data_root}` (gansweep.data.images.prepare; "
                f"the Snakemake rule that prepares data sets runs the same command)."
            )
        d = self.prepared_dir(data_root)
        meta = json.loads((d / META).read_text())
        images = np.load(d / f"{split}_images.npy", mmap_mode="r")
        labels = np.load(d / f"{split}_labels.npy") if self.n_classes else None
        want = (meta["counts"][split], self.resolution, self.resolution, 3)
        if images.shape != want or images.dtype != np.uint8:
            raise ValueError(f"{d / f'{split}_images.npy'} has {images.shape} {images.dtype}, meta.json says {want} uint8")
        if labels is not None and labels.shape != (want[0],):
            raise ValueError(f"{d / f'{split}_labels.npy'} has shape {labels.shape}, expected {(want[0],)}")
        return ImageArrays(self.name, split, images, labels)

    # -- per source ---------------------------------------------------------------------------
    def _settings(self, split_seed: int, train_fraction: float) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "split_seed": split_seed,
            "train_fraction": train_fraction,
            "format": PREPARE_FORMAT,
        }

    def _write_arrays(self, data_root: Path, out: Path, seed: int, fraction: float, workers: int) -> dict:
        raise NotImplementedError

    def _warn_count(self, n: int) -> None:
        if n != self.n_images:
            _log(f"warning: {self.name} has {n:,} images, the official set has {self.n_images:,}")


def _library_versions() -> dict[str, str]:
    import PIL
    import torchvision

    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__, "numpy": np.__version__}


# -- CIFAR-10 ---------------------------------------------------------------------------------

_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)
# The pickles hold numpy arrays, lists, ints and byte strings; nothing else may be imported.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Loads the CIFAR batches without executing arbitrary code from the archive."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"CIFAR batch refers to {module}.{name}, which is not allowed")
        return super().find_class(module, name)


def load_cifar_batch(fileobj: Any) -> dict[str, Any]:
    """One python-version CIFAR batch (a Python 2 pickle with byte-string keys) as a dict with
    str keys (``data`` uint8 [n, 3072] CHW row-major, ``labels``...)."""
    raw = _ArrayUnpickler(fileobj, encoding="bytes").load()
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in raw.items()}


def cifar_chw_to_hwc(data: np.ndarray) -> np.ndarray:
    """[n, 3072] rows (1024 R, 1024 G, 1024 B, each 32×32 row-major) -> [n, 32, 32, 3]."""
    return np.ascontiguousarray(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


@dataclass(frozen=True, kw_only=True)
class Cifar10(ImageSource):
    def describe_preprocessing(self) -> str:
        return (
            "python pickles read from the tar.gz without extracting; data [N, 3072] (CHW row-major) "
            "reshaped to [N, 3, 32, 32] and transposed to NHWC; train = data_batch_1..5 in order, "
            "test = test_batch (the official split); no resizing"
        )

    def _settings(self, split_seed: int, train_fraction: float) -> dict[str, Any]:
        return {"resolution": self.resolution, "split": "official", "format": PREPARE_FORMAT}

    def _write_arrays(self, data_root: Path, out: Path, seed: int, fraction: float, workers: int) -> dict:
        path = self.archive_path(data_root)
        if not path.is_file():
            raise DataMissingError(
                f"CIFAR-10 archive missing: expected {path}. Run `gansweep download cifar10 --data-root "
                f"{data_root}` or fetch {self.url} (MD5 {self.md5}) and place it there."
            )
        digests = file_digests(path)
        if digests["md5"] != self.md5:
            _log(f"warning: {path} has MD5 {digests['md5']}, not the published {self.md5}")
        wanted = {f"{_CIFAR_DIR}/{b}": b for b in _CIFAR_TRAIN + _CIFAR_TEST}
        batches: dict[str, dict] = {}
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name in wanted and member.isfile():
                    batches[wanted[name]] = load_cifar_batch(tar.extractfile(member))
        missing = [f"{_CIFAR_DIR}/{b}" for b in _CIFAR_TRAIN + _CIFAR_TEST if b not in batches]
        if missing:
            raise DataMissingError(f"{path} lacks {', '.join(missing)}; is it {self.url}?")
        counts = {}
        for split, names in (("train", _CIFAR_TRAIN), ("test", _CIFAR_TEST)):
            data, labels = [], []
            for b in names:
                batch = batches[b]
                arr = np.asarray(batch["data"])
                lab = np.asarray(batch["labels"], dtype=np.int64)
                if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != 3072 or len(lab) != len(arr):
                    raise ValueError(f"{b}: data {arr.dtype} {arr.shape} with {len(lab)} labels is not CIFAR-10")
                if lab.size and (lab.min() < 0 or lab.max() >= self.n_classes):
                    raise ValueError(f"{b}: labels outside 0..{self.n_classes - 1}")
                data.append(arr)
                labels.append(lab)
            images = cifar_chw_to_hwc(np.concatenate(data))
            _save_npy(images, out / f"{split}_images.npy")
            _save_npy(np.concatenate(labels), out / f"{split}_labels.npy")
            counts[split] = len(images)
        self._warn_count(counts["train"] + counts["test"])
        return {
            "counts": counts,
            "n_images": counts["train"] + counts["test"],
            "source": {
                "files": [{"path": str(path), "md5": digests["md5"], "sha256": digests["sha256"]}],
                "url": self.url,
                "published_md5": self.md5,
                "md5_matches_published": digests["md5"] == self.md5,
                "members": {"train": [f"{_CIFAR_DIR}/{b}" for b in _CIFAR_TRAIN], "test": [f"{_CIFAR_DIR}/{_CIFAR_TEST[0]}"]},
            },
            "split": {"rule": "official: train = data_batch_1..5, test = test_batch", "seed": None},
        }


# -- CelebA -----------------------------------------------------------------------------------

_CELEBA_MEMBER = re.compile(r"(?:^|/)img_align_celeba/(\d+\.jpg)$")


@dataclass(frozen=True, kw_only=True)
class CelebA(ImageSource):
    drive_id: str
    folder: str = "img_align_celeba"

    def describe_preprocessing(self) -> str:
        s = self.resolution
        return (
            f"sorted img_align_celeba/*.jpg (as torchvision ImageFolder orders them); PIL decode, "
            f"convert('RGB'); torchvision.transforms.functional.resize({s}) (shorter side, bilinear, "
            f"antialias, PIL) then center_crop({s}); uint8 NHWC"
        )

    def _missing_message(self, data_root: Path, reason: str) -> str:
        raw = self.raw_dir(data_root)
        return (
            f"CelebA could not be fetched ({reason}). Place EITHER the aligned-image zip at\n"
            f"  {raw / self.archive}   (MD5 {self.md5}; Google Drive file id {self.drive_id}: {self.url} ,\n"
            f"   listed on {self.homepage}; `pip install gdown` lets `gansweep download celeba` fetch it)\n"
            f"OR its extracted images at\n"
            f"  {raw / self.folder}/000001.jpg ... {self.n_images:06d}.jpg\n"
            f"then run `gansweep prepare celeba --data-root {data_root}`."
        )

    def download(
        self, data_root: str | os.PathLike, url: str | None = None, md5: str | None = None, sha256: str | None = None
    ) -> Path:
        """``url`` (a mirror, file:// or a local path) is fetched like any archive; otherwise an
        extracted folder or a verified zip already in place is used; otherwise Google Drive via
        torchvision (needs gdown); failing that, an error says which files to place where."""
        data_root = Path(data_root)
        raw, dest = self.raw_dir(data_root), self.archive_path(data_root)
        md5 = md5 or (None if sha256 else self.md5)
        if url:
            return super().download(data_root, url, md5, sha256)
        if self._folder_images(data_root):
            _log(f"{raw / self.folder} holds the extracted images; download skipped")
            return raw / self.folder
        if _existing_ok(dest, md5, sha256):
            return dest
        note = ""
        if dest.is_file():
            note = (
                f"; {dest} is there but does not verify (its MD5 is {file_digests(dest)['md5']}): if it is "
                f"a trusted copy, pass --md5 with that value, or run `gansweep prepare celeba` directly"
            )
        raw.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=".celeba-download.", dir=raw))
        try:
            from torchvision.datasets import utils as tv_utils

            tv_utils.download_file_from_google_drive(self.drive_id, str(tmpdir), filename=self.archive, md5=self.md5)
            got = tmpdir / self.archive
            digests = file_digests(got)
            if problem := _mismatch(digests, md5, sha256):
                raise ChecksumError(f"checksum mismatch for Google Drive file {self.drive_id}: {problem}")
            _publish_mode(got)
            os.replace(got, dest)
            _write_sidecar(dest, digests["sha256"])
        except Exception as err:
            raise DataMissingError(self._missing_message(data_root, f"{type(err).__name__}: {err}{note}")) from err
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return dest

    def _folder_images(self, data_root: Path) -> tuple[Path, list[str]] | None:
        base = self.raw_dir(data_root) / self.folder
        for d in (base, base / self.folder):  # the Kaggle copy nests the folder once more
            if d.is_dir():
                names = sorted(p.name for p in d.iterdir() if p.suffix.lower() == ".jpg")
                if names:
                    return d, names
        return None

    def _zip_images(self, path: Path) -> list[str]:
        with zipfile.ZipFile(path) as zf:
            members = [m.filename for m in zf.infolist() if not m.is_dir() and _CELEBA_MEMBER.search(m.filename)]
        members.sort(key=lambda m: m.rsplit("/", 1)[-1])
        names = [m.rsplit("/", 1)[-1] for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"{path} holds the same image name in several folders")
        return members

    def _write_arrays(self, data_root: Path, out: Path, seed: int, fraction: float, workers: int) -> dict:
        zip_path = self.archive_path(data_root)
        found = self._folder_images(data_root)
        if found:
            folder, keys = found
            spec: tuple = ("dir", str(folder))
            source: dict[str, Any] = {"folder": str(folder)}
        elif zip_path.is_file():
            keys = self._zip_images(zip_path)
            if not keys:
                raise DataMissingError(f"{zip_path} has no img_align_celeba/*.jpg members")
            spec = ("zip", str(zip_path))
            digests = file_digests(zip_path)
            if digests["md5"] != self.md5:
                _log(f"warning: {zip_path} has MD5 {digests['md5']}, not the published {self.md5}")
            source = {
                "files": [{"path": str(zip_path), **digests}],
                "published_md5": self.md5,
                "md5_matches_published": digests["md5"] == self.md5,
            }
        else:
            raise DataMissingError(self._missing_message(data_root, "no CelebA images found"))
        self._warn_count(len(keys))
        facts = _decode_split(spec, keys, self.resolution, out, seed, fraction, workers)
        facts["source"] = {
            **source,
            "url": self.url,
            "first": keys[0].rsplit("/", 1)[-1],
            "last": keys[-1].rsplit("/", 1)[-1],
            "content_sha256": facts.pop("content_sha256"),
            "content_rule": "sha256 over the MD5 digests (16 bytes each) of the raw files in sorted order",
        }
        return facts


# -- LSUN classroom ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LsunScene(ImageSource):
    folder: str  # the lmdb folder inside the zip and under <data_root>/<name>/

    def describe_preprocessing(self) -> str:
        s = self.resolution
        return (
            f"lmdb values in key order (as torchvision LSUNClass); PIL decode from bytes (webp), "
            f"convert('RGB'); torchvision.transforms.functional.resize({s}) (shorter side, bilinear, "
            f"antialias, PIL) then center_crop({s}); uint8 NHWC"
        )

    def lmdb_dir(self, data_root: str | os.PathLike) -> Path:
        return self.raw_dir(data_root) / self.folder

    def download(
        self, data_root: str | os.PathLike, url: str | None = None, md5: str | None = None, sha256: str | None = None
    ) -> Path:
        """Fetch the zip (no checksum is published: its SHA-256 goes to ``<zip>.sha256``; pass
        ``sha256`` to pin one), then unzip atomically to ``<data_root>/<name>/<folder>/``."""
        target = self.lmdb_dir(data_root)
        if (target / "data.mdb").is_file():
            _log(f"{target} already holds data.mdb; download skipped")
            return target
        zip_path = super().download(data_root, url, md5, sha256)
        _unzip_lmdb(zip_path, target)
        return target

    def _write_arrays(self, data_root: Path, out: Path, seed: int, fraction: float, workers: int) -> dict:
        target = self.lmdb_dir(data_root)
        if not (target / "data.mdb").is_file():
            raise DataMissingError(
                f"LSUN {self.folder} missing: expected {target / 'data.mdb'} (and lock.mdb). Run "
                f"`gansweep download {self.name} --data-root {data_root}`, or fetch {self.url} , save it as "
                f"{self.archive_path(data_root)} and run the same command to unzip it."
            )
        env = _open_lmdb(target)
        try:
            with env.begin(write=False) as txn:
                entries = txn.stat()["entries"]
                keys = [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]
        finally:
            env.close()
        if len(keys) != entries:
            raise ValueError(f"{target}: iterated {len(keys)} keys, lmdb reports {entries}")
        self._warn_count(len(keys))
        facts = _decode_split(("lmdb", str(target)), keys, self.resolution, out, seed, fraction, workers)
        zip_path = self.archive_path(data_root)
        facts["source"] = {
            "lmdb": str(target),
            "url": self.url,
            "zip": {"path": str(zip_path), "sha256": _read_sidecar(zip_path)} if zip_path.is_file() else None,
            "first_key": keys[0].decode("latin1"),
            "last_key": keys[-1].decode("latin1"),
            "content_sha256": facts.pop("content_sha256"),
            "content_rule": "sha256 over the MD5 digests (16 bytes each) of the lmdb values in key order",
        }
        return facts


def _unzip_lmdb(zip_path: Path, target: Path) -> None:
    """Extract the folder holding data.mdb into a temp folder beside ``target``, then rename."""
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists without data.mdb; remove it and run download again")
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = [m.filename for m in zf.infolist() if not m.is_dir()]
            data = [n for n in names if n == "data.mdb" or n.endswith("/data.mdb")]
            if len(data) != 1:
                raise ValueError(f"{zip_path} should hold one data.mdb, found {data or 'none'}")
            prefix = data[0][: -len("data.mdb")]
            _log(f"unzipping {zip_path} ({prefix or './'}) -> {target}")
            for name in names:
                if not name.startswith(prefix):
                    continue
                rel = Path(name[len(prefix) :])
                if rel.is_absolute() or ".." in rel.parts:
                    raise ValueError(f"{zip_path} has an unsafe member {name!r}")
                dest = tmpdir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
                    dst.flush()
                    os.fsync(dst.fileno())
                _publish_mode(dest)
        _publish_mode(tmpdir, directory=True)
        if target.exists():
            target.rmdir()  # empty (checked above)
        os.replace(tmpdir, target)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise


# -- registry ---------------------------------------------------------------------------------

CIFAR10 = DATASETS.register("cifar10")(
    Cifar10(
        name="cifar10",
        resolution=32,
        n_classes=10,
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        archive="cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        n_images=60_000,
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    )
)
CELEBA = DATASETS.register("celeba")(
    CelebA(
        name="celeba",
        resolution=64,
        n_classes=0,
        url="https://drive.google.com/uc?id=0B7EVK8r0v71pZjFTYXZWM3FlRnM",
        archive="img_align_celeba.zip",
        md5="00d2c5bc6d35e252742224ab0c1e8fcb",  # as listed by torchvision.datasets.CelebA
        n_images=202_599,
        homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        drive_id="0B7EVK8r0v71pZjFTYXZWM3FlRnM",
    )
)
LSUN_CLASSROOM = DATASETS.register("lsun_classroom")(
    LsunScene(
        name="lsun_classroom",
        resolution=112,
        n_classes=0,
        url="http://dl.yf.io/lsun/scenes/classroom_train_lmdb.zip",
        archive="classroom_train_lmdb.zip",
        md5=None,  # none published; download records the SHA-256 in classroom_train_lmdb.zip.sha256
        n_images=168_103,
        homepage="https://www.yf.io/p/lsun",
        folder="classroom_train_lmdb",
    )
)
IMAGE_DATASETS = ("cifar10", "celeba", "lsun_classroom")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageArrays:
    """One prepared split: uint8 NHWC images (memory-mapped) and int64 labels or None."""

    name: str
    split: str
    images: np.ndarray  # np.memmap uint8 [N, H, W, 3]
    labels: np.ndarray | None  # int64 [N]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def resolution(self) -> int:
        return self.images.shape[1]

    def batch(
        self,
        indices: Any,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images ``indices`` (ints, array, tensor or slice) as x float [B, 3, H, W] in [−1, 1]
        (v / 127.5 − 1; channels_last memory format if asked) on ``device``, and y long [B] or
        None. uint8 goes to the device and is converted there (4× less transfer)."""
        if isinstance(indices, slice):
            idx = np.arange(len(self))[indices]
        elif isinstance(indices, torch.Tensor):
            idx = indices.detach().cpu().numpy()
        else:
            idx = np.asarray(indices)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        raw = np.asarray(self.images[idx]).view(np.ndarray)  # a copy: fancy indexing
        x = torch.from_numpy(raw).to(device).permute(0, 3, 1, 2)  # a channels_last view
        x = x.to(dtype).contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        x = x.div_(127.5).sub_(1.0)
        y = None if self.labels is None else torch.from_numpy(np.asarray(self.labels[idx], dtype=np.int64)).to(device)
        return x, y


# --------------------------------------------------------------------------------------------
# Module-level API (what the CLI calls)
# --------------------------------------------------------------------------------------------


def image_source(name: str) -> ImageSource:
    """The registered image source ``name`` (KeyError for unknown names, ValueError for 2D ones)."""
    source = DATASETS[name]
    if getattr(source, "kind", None) != "image":
        raise ValueError(f"dataset {name!r} is not an image data set; image ones: {', '.join(IMAGE_DATASETS)}")
    return source


def download(
    name: str, data_root: str | os.PathLike, url: str | None = None, md5: str | None = None, sha256: str | None = None
) -> Path:
    """Fetch the raw data of ``name`` into ``<data_root>/<name>/``; returns what ``prepare``
    reads (the CIFAR tar.gz, the CelebA zip or folder, the LSUN lmdb folder)."""
    return image_source(name).download(data_root, url=url, md5=md5, sha256=sha256)


def prepare(
    name: str,
    data_root: str | os.PathLike,
    split_seed: int = 1,
    train_fraction: float = 0.8,
    workers: int | None = None,
    force: bool = False,
) -> Path:
    """Decode ``name`` once into ``<data_root>/<name>/prepared/``; returns meta.json's path."""
    return image_source(name).prepare(data_root, split_seed, train_fraction, workers, force)


def load_split(name: str, data_root: str | os.PathLike, split: str) -> ImageArrays:
    """Memory-map one prepared split ("train" or "test")."""
    return image_source(name).load_split(data_root, split)


def prepared_meta_path(name: str, data_root: str | os.PathLike) -> Path:
    """``<data_root>/<name>/prepared/meta.json``: the file whose presence marks a finished prepare."""
    return image_source(name).prepared_dir(data_root) / META
