"""Datasets: one registry, filled by the modules below."""

from gansweep.data.toy2d import DATASETS, GaussianMixture, ToyData, make_toy_data

__all__ = ["DATASETS", "GaussianMixture", "ToyData", "make_toy_data"]
