"""Tiny archives in the exact formats of the real image data sets, for tests.

- ``make_cifar10_archive``: ``cifar-10-python.tar.gz`` — a gzip tar holding the directory
  ``cifar-10-batches-py/`` with ``data_batch_1..5``, ``test_batch`` (pickled dicts with byte-string
  keys ``b'batch_label'``, ``b'labels'``, ``b'data'`` uint8 [n, 3072] CHW row-major,
  ``b'filenames'``), ``batches.meta`` (``b'label_names'``...) and ``readme.html``. The pickles are
  written the way Python 2's cPickle wrote the real ones (protocol 2, byte strings as py2 ``str``
  opcodes), so the loader sees what it sees on the real archive.
- ``make_celeba_tree`` / ``make_celeba_zip``: ``img_align_celeba/000001.jpg...`` of 178×218 (W×H)
  JPEGs, like the aligned CelebA set, and ``img_align_celeba.zip`` of that folder.
- ``make_lsun_lmdb`` / ``make_lsun_zip``: ``classroom_train_lmdb/{data,lock}.mdb`` whose keys are
  40-hex-character byte strings and whose values are WebP images (one JPEG) of varied non-square
  sizes, and ``classroom_train_lmdb.zip`` of that folder, as on dl.yf.io.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np

CIFAR_LABEL_NAMES = [
    b"airplane",
    b"automobile",
    b"bird",
    b"cat",
    b"deer",
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]
# (width, height): LSUN images have a shorter side of 256 and varied aspect ratios.
LSUN_SIZES = [
    (341, 256),
    (256, 384),
    (300, 256),
    (256, 257),
    (455, 256),
    (256, 320),
    (383, 256),
    (256, 290),
]


def md5_of(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


class _Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler writing what Python 2's cPickle wrote for the real batches: every
    string (``bytes`` and ASCII ``str``) as a py2 ``str`` (SHORT_BINSTRING/BINSTRING) and numpy
    globals under their numpy-1 module ``numpy.core.multiarray``."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    def _save_ascii_str(self, obj: str) -> None:
        self._save_py2_str(obj.encode("ascii"))

    def save_global(self, obj: object, name: str | None = None) -> None:
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_ascii_str
    dispatch[type] = save_global


def py2_pickle(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def cifar10_batch(n: int, batch_label: bytes, rng: np.random.Generator) -> dict:
    labels = [int(v) for v in rng.integers(0, 10, n)]
    return {
        b"batch_label": batch_label,
        b"labels": labels,
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [
            f"{CIFAR_LABEL_NAMES[c].decode()}_s_{i:06d}.png".encode() for i, c in enumerate(labels)
        ],
    }


def make_cifar10_archive(
    directory: str | Path, n_train_per_batch: int = 6, n_test: int = 5, seed: int = 0
) -> tuple[Path, str]:
    """``<directory>/cifar-10-python.tar.gz`` with random pixels and labels; returns (path, md5).
    The batches themselves can be read back with :func:`read_cifar10_batches`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    path = directory / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        tar.addfile(info)
        for i in range(1, 6):
            batch = cifar10_batch(n_train_per_batch, f"training batch {i} of 5".encode(), rng)
            _add(tar, f"cifar-10-batches-py/data_batch_{i}", py2_pickle(batch))
        meta = {
            b"num_cases_per_batch": n_train_per_batch,
            b"label_names": CIFAR_LABEL_NAMES,
            b"num_vis": 3072,
        }
        _add(tar, "cifar-10-batches-py/batches.meta", py2_pickle(meta))
        _add(
            tar,
            "cifar-10-batches-py/test_batch",
            py2_pickle(cifar10_batch(n_test, b"testing batch 1 of 1", rng)),
        )
        _add(
            tar,
            "cifar-10-batches-py/readme.html",
            b"<meta HTTP-EQUIV='REFRESH' content='0; url=https://www.cs.toronto.edu/~kriz/cifar.html'>\n",
        )
    return path, md5_of(path)


def read_cifar10_batches(path: str | Path) -> dict[str, dict]:
    """The pickled dicts of an archive, by member base name, read the standard way."""
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.isfile() and not member.name.endswith(".html"):
                out[member.name.rsplit("/", 1)[-1]] = pickle.load(
                    tar.extractfile(member), encoding="bytes"
                )
    return out


def _smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Random but smooth RGB content (so JPEG/WebP keep it recognisable), uint8 [H, W, 3]."""
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3)).astype(np.float64)
    yy = np.linspace(0, coarse.shape[0] - 1.001, height)
    xx = np.linspace(0, coarse.shape[1] - 1.001, width)
    y0, x0 = yy.astype(int), xx.astype(int)
    fy, fx = (yy - y0)[:, None, None], (xx - x0)[None, :, None]
    c = coarse
    img = (
        c[y0][:, x0] * (1 - fy) * (1 - fx)
        + c[y0 + 1][:, x0] * fy * (1 - fx)
        + c[y0][:, x0 + 1] * (1 - fy) * fx
        + c[y0 + 1][:, x0 + 1] * fy * fx
    )
    return np.clip(img, 0, 255).astype(np.uint8)


def make_celeba_tree(directory: str | Path, n: int = 12, seed: int = 0) -> Path:
    """``<directory>/img_align_celeba/000001.jpg ... {n:06d}.jpg`` (178×218); returns the folder."""
    from PIL import Image

    folder = Path(directory) / "img_align_celeba"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(1, n + 1):
        Image.fromarray(_smooth_image(rng, 218, 178)).save(folder / f"{i:06d}.jpg", quality=90)
    return folder


def make_celeba_zip(directory: str | Path, n: int = 12, seed: int = 0) -> tuple[Path, str]:
    """``<directory>/img_align_celeba.zip`` holding ``img_align_celeba/*.jpg`` (built in
    ``<directory>/build/``); returns (path, md5)."""
    directory = Path(directory)
    folder = make_celeba_tree(directory / "build", n=n, seed=seed)
    path = directory / "img_align_celeba.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("img_align_celeba/"), b"")
        for jpg in sorted(folder.iterdir()):
            zf.write(jpg, f"img_align_celeba/{jpg.name}")
    return path, md5_of(path)


def make_lsun_lmdb(directory: str | Path, n: int = 8, seed: int = 0) -> Path:
    """``<directory>/classroom_train_lmdb/`` (data.mdb, lock.mdb): n images keyed by 40-hex
    byte keys, WebP-encoded except one JPEG; returns the folder."""
    import lmdb
    from PIL import Image

    folder = Path(directory) / "classroom_train_lmdb"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    env = lmdb.open(str(folder), map_size=64 * 2**20)
    with env.begin(write=True) as txn:
        for i in range(n):
            w, h = LSUN_SIZES[i % len(LSUN_SIZES)]
            buf = io.BytesIO()
            fmt = "JPEG" if i == n // 2 else "WEBP"
            Image.fromarray(_smooth_image(rng, h, w)).save(buf, format=fmt, quality=75)
            key = hashlib.sha1(f"classroom {seed} {i}".encode()).hexdigest().encode()
            txn.put(key, buf.getvalue())
    env.close()
    return folder


def make_lsun_zip(directory: str | Path, n: int = 8, seed: int = 0) -> Path:
    """``<directory>/classroom_train_lmdb.zip`` of ``classroom_train_lmdb/{data,lock}.mdb``."""
    directory = Path(directory)
    folder = make_lsun_lmdb(directory / "build", n=n, seed=seed)
    path = directory / "classroom_train_lmdb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("classroom_train_lmdb/"), b"")
        for name in ("data.mdb", "lock.mdb"):
            zf.write(folder / name, f"classroom_train_lmdb/{name}")
    return path


def lsun_records(folder: str | Path) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs of an lmdb folder in stored (sorted) key order."""
    import lmdb

    env = lmdb.open(str(folder), readonly=True, lock=False)
    with env.begin() as txn:
        records = [(bytes(k), bytes(v)) for k, v in txn.cursor()]
    env.close()
    return records


def write_smoke_sources(out_dir: str | Path) -> Path:
    """Everything a smoke run needs instead of the real downloads: tiny CIFAR-10, CelebA and
    LSUN archives in their real formats, and stand-in Inception weights with the right
    shapes. Writes ``out_dir/sources.yaml``, a config overlay pointing the workflow's download
    and weight-fetching rules at them (pass it as a second ``--configfile``)."""
    import yaml

    from gansweep.metrics.fid import FEATURE_EXTRACTORS, write_standin_weights

    out_dir = Path(out_dir).resolve()
    cifar, cifar_md5 = make_cifar10_archive(out_dir / "cifar10", n_train_per_batch=8, n_test=8)
    celeba, celeba_md5 = make_celeba_zip(out_dir / "celeba", n=20)
    n_lsun = 20
    lsun = make_lsun_zip(out_dir / "lsun_classroom", n=n_lsun)
    sources = {
        "downloads": {
            "cifar10": {"url": cifar.as_uri(), "md5": cifar_md5},
            "celeba": {"url": celeba.as_uri(), "md5": celeba_md5},
            "lsun_classroom": {
                "url": lsun.as_uri(),
                "n_images": n_lsun,
            },  # LSUN is verified by its count
        },
        "fid": {"weights": {}},
    }
    for metric in FEATURE_EXTRACTORS:
        path = out_dir / "weights" / FEATURE_EXTRACTORS[metric].file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = write_standin_weights(metric, path)
        sources["fid"]["weights"][metric] = {"url": path.as_uri(), "sha256_prefix": digest[:16]}
    target = out_dir / "sources.yaml"
    target.write_text(
        "# Stand-in sources for smoke runs: tiny data, random Inception weights.\n"
        + yaml.safe_dump(sources, sort_keys=False)
    )
    return target
