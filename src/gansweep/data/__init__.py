"""Datasets: one registry (``DATASETS``), filled by the modules below.

toy2d.py     the 2D Gaussian mixtures (ring, grid)
registry.py  the image data sets by name; download / prepare / load_split (what the CLI calls)
cifar10.py, celeba.py, lsun.py   one module per image source: URL, checksum, format, decoding
source.py    what every image source shares (paths, download, prepare bookkeeping, loading)
preparing.py the shared prepare step: resize + crop, split, memory-mapped arrays
fetching.py  downloads (pooch), checksums, ``.sha256`` records;  errors.py  the error types
"""

from gansweep.data.toy2d import DATASETS, GaussianMixture, ToyData, make_toy_data

__all__ = ["DATASETS", "GaussianMixture", "ToyData", "make_toy_data"]
from gansweep.data.errors import ChecksumError, ContentError, DataMissingError  # noqa: E402
from gansweep.data.fetching import fetch  # noqa: E402
from gansweep.data.registry import (  # noqa: E402
    IMAGE_DATASETS,
    ImageArrays,
    ImageSource,
    download,
    image_source,
    load_split,
    prepare,
    prepared_meta_path,
)

__all__ += [
    "IMAGE_DATASETS",
    "ChecksumError",
    "ContentError",
    "DataMissingError",
    "ImageArrays",
    "ImageSource",
    "download",
    "fetch",
    "image_source",
    "load_split",
    "prepare",
    "prepared_meta_path",
]
