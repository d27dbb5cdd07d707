"""CIFAR-10 (python version): the official tar.gz, read without extracting; official split.

The batches are Python 2 pickles; they are loaded by an unpickler that allows only the numpy
globals they need, so an archive cannot run code.
"""

from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gansweep.data.errors import DataMissingError
from gansweep.data.fetching import file_digests, log
from gansweep.data.preparing import PREPARE_FORMAT, save_npy
from gansweep.data.source import ImageSource
from gansweep.data.toy2d import DATASETS

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
            raise pickle.UnpicklingError(
                f"CIFAR batch refers to {module}.{name}, which is not allowed"
            )
        return super().find_class(module, name)


def load_cifar_batch(fileobj: Any) -> dict[str, Any]:
    """One python-version CIFAR batch (a Python 2 pickle with byte-string keys) as a dict with
    str keys (``data`` uint8 [n, 3072] CHW row-major, ``labels``...)."""
    raw = _ArrayUnpickler(fileobj, encoding="bytes").load()
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in raw.items()}


def cifar_chw_to_hwc(data: np.ndarray) -> np.ndarray:
    """[n, 3072] rows (1024 R, 1024 G, 1024 B, each 32×32 row-major) -> [n, 32, 32, 3]."""
    return np.ascontiguousarray(
        np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    )


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

    def _write_arrays(
        self, data_root: Path, out: Path, seed: int, fraction: float, workers: int
    ) -> dict:
        path = self.archive_path(data_root)
        if not path.is_file():
            raise DataMissingError(
                f"CIFAR-10 archive missing: expected {path}. Run `gansweep download cifar10 --data-root "
                f"{data_root}` or fetch {self.url} (MD5 {self.md5}) and place it there."
            )
        digests = file_digests(path)
        if digests["md5"] != self.md5:
            log(f"warning: {path} has MD5 {digests['md5']}, not the published {self.md5}")
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
                if (
                    arr.dtype != np.uint8
                    or arr.ndim != 2
                    or arr.shape[1] != 3072
                    or len(lab) != len(arr)
                ):
                    raise ValueError(
                        f"{b}: data {arr.dtype} {arr.shape} with {len(lab)} labels is not CIFAR-10"
                    )
                if lab.size and (lab.min() < 0 or lab.max() >= self.n_classes):
                    raise ValueError(f"{b}: labels outside 0..{self.n_classes - 1}")
                data.append(arr)
                labels.append(lab)
            images = cifar_chw_to_hwc(np.concatenate(data))
            save_npy(images, out / f"{split}_images.npy")
            save_npy(np.concatenate(labels), out / f"{split}_labels.npy")
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
                "members": {
                    "train": [f"{_CIFAR_DIR}/{b}" for b in _CIFAR_TRAIN],
                    "test": [f"{_CIFAR_DIR}/{_CIFAR_TEST[0]}"],
                },
            },
            "split": {"rule": "official: train = data_batch_1..5, test = test_batch", "seed": None},
        }


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
