"""The image data sets by name, and the three steps the CLI calls: download, prepare, load.

Each step is a function of ``(name, data_root)``:

``download``   fetches the official archive (or a mirror) into ``<data_root>/<name>/``, verified
               (fetching.py; LSUN by content, lsun.py) and skips work already done.
``prepare``    decodes once into memory-mappable uint8 arrays ``<data_root>/<name>/prepared/
               {train,test}_images.npy`` [N, H, W, 3] (+ ``{train,test}_labels.npy`` int64 for
               CIFAR-10) and writes ``prepared/meta.json`` last, which marks completion.
``load_split`` memory-maps one split; ``ImageArrays.batch`` turns indices into model input
               (float NCHW in [−1, 1]).
"""

from __future__ import annotations

import os
from pathlib import Path

from gansweep.data.celeba import CELEBA
from gansweep.data.cifar10 import CIFAR10
from gansweep.data.lsun import LSUN_CLASSROOM
from gansweep.data.preparing import META
from gansweep.data.source import ImageArrays, ImageSource
from gansweep.data.toy2d import DATASETS

IMAGE_DATASETS = tuple(source.name for source in (CIFAR10, CELEBA, LSUN_CLASSROOM))


def image_source(name: str) -> ImageSource:
    """The registered image source ``name`` (KeyError for unknown names, ValueError for 2D ones)."""
    source = DATASETS[name]
    if getattr(source, "kind", None) != "image":
        raise ValueError(
            f"dataset {name!r} is not an image data set; image ones: {', '.join(IMAGE_DATASETS)}"
        )
    return source


def download(
    name: str,
    data_root: str | os.PathLike,
    url: str | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    n_images: int | None = None,
) -> Path:
    """Fetch the raw data of ``name`` into ``<data_root>/<name>/``; returns what ``prepare``
    reads (the CIFAR tar.gz, the CelebA zip or folder, the LSUN lmdb folder). ``n_images``: the
    image count an LSUN mirror holds (default: the published count)."""
    return image_source(name).download(
        data_root, url=url, md5=md5, sha256=sha256, n_images=n_images
    )


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
