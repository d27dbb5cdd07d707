"""Datasets: one registry, filled by the modules below."""

from gansweep.data.toy2d import DATASETS, GaussianMixture, ToyData, make_toy_data

__all__ = ["DATASETS", "GaussianMixture", "ToyData", "make_toy_data"]
from gansweep.data.images import (  # noqa: E402
    IMAGE_DATASETS, ChecksumError, DataMissingError, ImageArrays, ImageSource, download, load_split, prepare,
)
__all__ += ["IMAGE_DATASETS", "ChecksumError", "DataMissingError", "ImageArrays", "ImageSource", "download", "load_split", "prepare"]
