"""What every image data set shares: :class:`ImageSource` (where its files live, download,
the prepare step's bookkeeping, loading a split) and :class:`ImageArrays` (a loaded split).

Each source module (cifar10.py, celeba.py, lsun.py) subclasses ImageSource with its own
format and registers one instance; registry.py has the functions the CLI calls.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gansweep
from gansweep.data.errors import DataMissingError
from gansweep.data.fetching import existing_ok, fetch, log, publish_mode
from gansweep.data.preparing import META, PREPARE_FORMAT, PREPARED, SPLITS, default_workers
from gansweep.io import write_text


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
        self,
        data_root: str | os.PathLike,
        url: str | None = None,
        md5: str | None = None,
        sha256: str | None = None,
        n_images: int | None = None,
    ) -> Path:
        """Fetch the official archive (or ``url``, checked against ``md5``/``sha256``, the
        published MD5 by default) into ``archive_path``; skip when it exists and verifies.
        ``n_images`` (the image count the content must have) applies to sources whose archive
        has no published checksum (LSUN); here the MD5 pins the content."""
        if n_images is not None:
            raise ValueError(
                f"n_images (downloads.{self.name}.n_images) is checked for LSUN only; {self.name} is "
                f"pinned by its MD5 ({self.md5}): give md5 or sha256 for a mirror instead"
            )
        dest = self.archive_path(data_root)
        md5 = md5 or (None if sha256 else self.md5)
        if not existing_ok(dest, md5, sha256):
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
        if (
            not force
            and meta_path.is_file()
            and all(p.is_file() for p in self.prepared_files(data_root))
        ):
            meta = json.loads(meta_path.read_text())
            if meta.get("settings") == settings:
                log(f"{out} is already prepared with these settings; skipped")
                return meta_path
        out.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # incomplete from here until it is written again
        started = time.monotonic()
        facts = self._write_arrays(
            Path(data_root),
            out,
            split_seed,
            train_fraction,
            default_workers() if workers is None else workers,
        )
        files = {}
        for p in self.prepared_files(data_root)[:-1] + [out / f"{s}_indices.npy" for s in SPLITS]:
            if p.is_file():
                arr = np.load(p, mmap_mode="r")
                files[p.name] = {
                    "shape": list(arr.shape),
                    "dtype": str(arr.dtype),
                    "bytes": p.stat().st_size,
                }
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
        publish_mode(meta_path)
        log(f"prepared {self.name}: {facts['counts']} -> {out}")
        return meta_path

    def load_split(self, data_root: str | os.PathLike, split: str) -> ImageArrays:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        files = self.prepared_files(data_root)
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise DataMissingError(
                f"{self.name} is not prepared under {self.prepared_dir(data_root)}: missing "
                + ", ".join(missing)
                + f". Create them with `gansweep download {self.name} --data-root {data_root}` then "
                f"`gansweep prepare {self.name} --data-root {data_root}` (gansweep.data.registry.prepare; "
                f"the Snakemake rule that prepares data sets runs the same command)."
            )
        d = self.prepared_dir(data_root)
        meta = json.loads((d / META).read_text())
        images = np.load(d / f"{split}_images.npy", mmap_mode="r")
        labels = np.load(d / f"{split}_labels.npy") if self.n_classes else None
        want = (meta["counts"][split], self.resolution, self.resolution, 3)
        if images.shape != want or images.dtype != np.uint8:
            raise ValueError(
                f"{d / f'{split}_images.npy'} has {images.shape} {images.dtype}, meta.json says {want} uint8"
            )
        if labels is not None and labels.shape != (want[0],):
            raise ValueError(
                f"{d / f'{split}_labels.npy'} has shape {labels.shape}, expected {(want[0],)}"
            )
        return ImageArrays(self.name, split, images, labels)

    # -- per source ---------------------------------------------------------------------------
    def _settings(self, split_seed: int, train_fraction: float) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "split_seed": split_seed,
            "train_fraction": train_fraction,
            "format": PREPARE_FORMAT,
        }

    def _write_arrays(
        self, data_root: Path, out: Path, seed: int, fraction: float, workers: int
    ) -> dict:
        raise NotImplementedError

    def _warn_count(self, n: int) -> None:
        if n != self.n_images:
            log(f"warning: {self.name} has {n:,} images, the official set has {self.n_images:,}")


def _library_versions() -> dict[str, str]:
    import PIL
    import torchvision

    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
    }


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
        x = x.to(dtype).contiguous(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format
        )
        x = x.div_(127.5).sub_(1.0)
        y = (
            None
            if self.labels is None
            else torch.from_numpy(np.asarray(self.labels[idx], dtype=np.int64)).to(device)
        )
        return x, y
