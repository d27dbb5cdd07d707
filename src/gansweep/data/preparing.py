"""The shared prepare step: decode records once into memory-mappable uint8 arrays.

CelebA and LSUN go through :func:`decode_split`: each record is decoded with PIL,
``Resize(s)`` (shorter side, bilinear, antialiased) then ``CenterCrop(s)`` as the (αD, αG)-GAN
authors did (protocol §4), and written at its position in the 80/20 split of ``random_split``
with lengths ``[int(0.8 n), n − int(0.8 n)]`` and the permutation
``torch.randperm(n, generator=torch.Generator().manual_seed(1))`` (first part = train), straight
into preallocated ``.npy`` memmaps that are renamed into place only when complete. Decoding runs
in a process pool; each worker opens its own zip / lmdb handle.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gansweep.data.fetching import log, publish_mode
from gansweep.io import atomic_path

SPLITS = ("train", "test")
PREPARED = "prepared"
META = "meta.json"
# Bump when the bytes ``prepare`` writes would change for the same input and settings.
PREPARE_FORMAT = 1
_CHUNK = 256  # images per decode task


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
        env = open_lmdb(Path(path))
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


def open_lmdb(path: Path):
    try:
        import lmdb
    except ModuleNotFoundError as err:  # pragma: no cover - lmdb is installed with the project
        raise ModuleNotFoundError(
            "reading LSUN needs the 'lmdb' package: pip install lmdb"
        ) from err
    return lmdb.open(
        str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=1
    )


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def split_indices(
    n: int, seed: int = 1, train_fraction: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """``random_split(range(n), [int(f n), n − int(f n)], generator=Generator().manual_seed(seed))``
    as index arrays (int64): train = first ``int(f n)`` entries of ``randperm``, test = the rest."""
    n_train = int(train_fraction * n)
    if not 0 < n_train < n:
        raise ValueError(f"a {train_fraction} split of {n} images leaves an empty part")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy().astype(np.int64)
    return perm[:n_train], perm[n_train:]


@contextlib.contextmanager
def _atomic_memmaps(
    paths: dict[str, Path], shapes: dict[str, tuple]
) -> Iterator[dict[str, np.memmap]]:
    """Preallocated uint8 .npy memmaps in temp files, flushed, fsynced and renamed on success."""
    with contextlib.ExitStack() as stack:
        tmps = {k: stack.enter_context(atomic_path(p)) for k, p in paths.items()}
        maps = {
            k: np.lib.format.open_memmap(tmps[k], mode="w+", dtype=np.uint8, shape=shapes[k])
            for k in paths
        }
        yield maps
        for mm in maps.values():
            mm.flush()
        maps.clear()  # unmaps (the caller holds no other reference)
        for tmp in tmps.values():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            publish_mode(tmp)


def save_npy(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array))
            f.flush()
            os.fsync(f.fileno())
        publish_mode(tmp)


def decode_split(
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
    log(f"decoding {n:,} images of {spec[1]} to {size}×{size} with {workers} worker(s)")
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
                log(f"  {done:,}/{n:,} images, {done / (last - start):,.0f}/s")
    save_npy(train_idx, out_dir / "train_indices.npy")
    save_npy(test_idx, out_dir / "test_indices.npy")
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
