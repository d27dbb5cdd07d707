"""Features → statistics: the shared uint8 quantisation, streaming mean / covariance, a kept
sample of the features themselves (for precision / recall / density / coverage and KID), and the
passes over real (prepared split) and generated images."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from gansweep.data import load_split
from gansweep.metrics.fid.extractor import FeatureExtractor, load_extractor, resolve_device
from gansweep.metrics.progress import progress

REFERENCE_FEATURES = (
    10_000  # real features kept with the reference statistics (Naeem et al. use 10k)
)
REFERENCE_FEATURES_SEED = 0  # which real images they come from: a fixed random subset of the split


def to_unit_range(x: Tensor) -> Tensor:
    """Model images → float32 in [0, 1], through the same uint8 quantisation for real and fake.

    uint8 (real, any layout) → x / 255; float (generated, in [−1, 1]) →
    ``((x + 1) * 127.5).round().clamp(0, 255) / 255``, i.e. exactly the pixels a saved PNG holds."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255
    if not x.is_floating_point():
        raise TypeError(f"expected uint8 or floating images, got {x.dtype}")
    return ((x.float() + 1) * 127.5).round().clamp(0, 255) / 255


class FeatureStats:
    """Streaming mean and unbiased covariance (as ``np.cov(rowvar=False)``) in float64.

    Batches are merged with Chan et al.'s pairwise update (batch mean and centred scatter, then
    the correction for the difference of means), which is stable even when the features' mean is
    large against their spread. Memory: dims + dims² float64 on the features' device."""

    def __init__(self) -> None:
        self.n = 0
        self._mean: Tensor | None = None
        self._m2: Tensor | None = None

    @property
    def dims(self) -> int | None:
        return None if self._mean is None else self._mean.shape[0]

    def update(self, features: Tensor | np.ndarray) -> None:
        x = torch.as_tensor(features).to(torch.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [B, dims], got {tuple(x.shape)}")
        k = x.shape[0]
        if k == 0:
            return
        if self._mean is not None and x.shape[1] != self.dims:
            raise ValueError(f"features have {x.shape[1]} dims, earlier batches had {self.dims}")
        mean_b = x.mean(0)
        centred = x - mean_b
        m2_b = centred.T @ centred
        if self._mean is None:
            self._mean, self._m2, self.n = mean_b, m2_b, k
            return
        mean_b, m2_b = mean_b.to(self._mean.device), m2_b.to(self._mean.device)
        total = self.n + k
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (k / total)
        self._m2 = self._m2 + m2_b + torch.outer(delta, delta) * (self.n * k / total)
        self.n = total

    def mean(self) -> np.ndarray:
        if self._mean is None:
            raise ValueError("no features yet")
        return self._mean.cpu().numpy()

    def cov(self) -> np.ndarray:
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 samples, have {self.n}")
        m2 = (self._m2 + self._m2.T) / 2
        return (m2 / (self.n - 1)).cpu().numpy()


class FeatureSample:
    """Keeps the features of chosen positions of a stream (float32, CPU), fed batch by batch in
    stream order: the statistics pass also yields the features, so no second pass is needed."""

    def __init__(self, positions: np.ndarray | int):
        positions = np.arange(positions) if np.isscalar(positions) else np.asarray(positions)
        self.positions = np.unique(positions.astype(np.int64))
        self._seen, self._parts = 0, []

    @classmethod
    def random(cls, total: int, keep: int, seed: int = REFERENCE_FEATURES_SEED) -> FeatureSample:
        """``min(keep, total)`` positions out of ``total``, drawn without replacement."""
        rng = np.random.default_rng(seed)
        return cls(rng.choice(total, size=min(keep, total), replace=False))

    def update(self, features: Tensor) -> None:
        lo, hi = self._seen, self._seen + features.shape[0]
        wanted = self.positions[(self.positions >= lo) & (self.positions < hi)] - lo
        if len(wanted):
            self._parts.append(
                features[torch.as_tensor(wanted, device=features.device)].float().cpu().numpy()
            )
        self._seen = hi

    def features(self) -> np.ndarray:
        if not self._parts:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(self._parts)


def _check_extractor(metric: str, extractor: FeatureExtractor) -> None:
    if getattr(extractor, "metric", metric) != metric:
        raise ValueError(f"extractor is for {extractor.metric!r}, not {metric!r}")


@torch.no_grad()
def reference_stats(
    metric: str,
    dataset: str,
    data_root: str | os.PathLike,
    split: str,
    weights_path: str | os.PathLike | None,
    device: str | torch.device = "auto",
    batch_size: int = 200,
    max_images: int | None = None,
    sha256_prefix: str | None = None,
    extractor: FeatureExtractor | None = None,
    keep_features: int = 0,
) -> tuple[np.ndarray, np.ndarray, int] | tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """(mu, sigma, n) of ``metric``'s features over the prepared uint8 images of one split (the
    first ``max_images`` of it if given), streamed in batches. Pass ``extractor`` to reuse one.
    ``keep_features`` > 0 also returns the features of that many images (a fixed random subset)."""
    device = resolve_device(device)
    if extractor is None:
        if weights_path is None:
            raise ValueError("give weights_path or extractor")
        extractor = load_extractor(metric, weights_path, device, sha256_prefix)
    _check_extractor(metric, extractor)
    images = load_split(dataset, data_root, split).images
    total = len(images) if max_images is None else min(int(max_images), len(images))
    if total < 2:
        raise ValueError(f"{dataset} {split} has {total} image(s); a covariance needs at least 2")
    stats, sample = FeatureStats(), FeatureSample.random(total, keep_features)
    with progress(total, f"{metric} reference {dataset} {split}") as bar:
        for lo in range(0, total, batch_size):
            raw = torch.from_numpy(
                np.array(images[lo : min(lo + batch_size, total)])
            )  # a writable copy
            feats = extractor(to_unit_range(raw.to(extractor.device).permute(0, 3, 1, 2)))
            stats.update(feats)
            sample.update(feats)
            bar.update(feats.shape[0])
    if keep_features:
        return stats.mean(), stats.cov(), stats.n, sample.features()
    return stats.mean(), stats.cov(), stats.n


@torch.no_grad()
def generated_stats(
    metric: str,
    sample_fn: Callable[[int], Tensor],
    n: int,
    batch_size: int,
    extractor: FeatureExtractor,
    device: str | torch.device | None = None,
    sample: FeatureSample | None = None,
    desc: str | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(mu, sigma, n) of ``metric``'s features over ``n`` generated images; ``sample_fn(k)`` returns
    the next ``k`` images in [−1, 1] (NCHW; the caller owns the evaluation seed). ``device`` is
    where the features go (the extractor's device by default). ``sample`` keeps chosen features."""
    _check_extractor(metric, extractor)
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 generated images, asked for {n}")
    stats = FeatureStats()
    with progress(n, desc or f"{metric} generated") as bar:
        while stats.n < n:
            k = min(batch_size, n - stats.n)
            x = sample_fn(k)
            if x.shape[0] != k:
                raise ValueError(f"sample_fn({k}) returned {x.shape[0]} images")
            feats = extractor(to_unit_range(x))
            stats.update(feats if device is None else feats.to(resolve_device(device)))
            if sample is not None:
                sample.update(feats)
            bar.update(k)
    return stats.mean(), stats.cov(), stats.n
