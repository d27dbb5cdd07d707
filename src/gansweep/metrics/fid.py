"""Fréchet Inception Distance: the standard FID and the (αD, αG) authors' logit variant.

Two named metrics, never mixed (each has its own column, weights, reference statistics):

``fid``            the standard FID of pytorch-fid 0.3.0: its InceptionV3 with the TF-ported
                   weights ``pt_inception-2015-12-05-6726825d.pth`` (``use_fid_inception=True``),
                   2048-d pool3 features, bilinear resize to 299 inside the network
                   (``resize_input``), [0, 1] → [−1, 1] (``normalize_input``). Reference: the
                   train split by default.
``fid_tv_logits``  the authors' non-standard FID (protocol §4): torchvision ``inception_v3``
                   with ``IMAGENET1K_V1`` weights (``inception_v3_google-0cc3c7bd.pth``; built as
                   torchvision builds it for those weights, i.e. ``transform_input=True``,
                   ``aux_logits=True``), eval mode, the 1000-d ImageNet **logits**, after
                   ``Inception_V3_Weights.IMAGENET1K_V1.transforms()`` (resize 342, centre-crop
                   299, ImageNet mean/std) on images in [0, 1]. Reference: the test split, as many
                   fakes as test images. Its values are only comparable with the authors'.

Pipeline. Every image goes through the same quantisation: real images are the prepared uint8
arrays / 255; generated images in [−1, 1] are rounded to uint8 exactly as a saved PNG would be
(:func:`to_unit_range`). Features are accumulated in float64 by :class:`FeatureStats` (mean and
unbiased covariance, merged batch by batch, so 50,000 × 2048 features are never held), and the
distance is pytorch-fid's ``calculate_frechet_distance`` (SciPy ``sqrtm``).

Weights. :func:`fetch_weights` (the Snakemake rule :data:`FETCH_RULE`, run on the head node)
downloads the official file, or copies it from a configured local path / ``file://`` URL on
offline clusters, into ``<weights_dir>/<file name>`` atomically and checks that its SHA-256
starts with the published prefix (pytorch-fid itself checks nothing). :func:`load_extractor`
checks the hash again and builds the network **without any network access**: the file is
``torch.load``-ed and handed to the library's own builder (pytorch-fid's module-level
``load_state_dict_from_url`` is replaced, for the duration of the build only, by a function that
returns that state dict and refuses any other URL), so nothing depends on ``TORCH_HOME`` or the
torch.hub cache. A missing or wrong file gives an error saying where to put it.

Tests and smoke runs use :func:`write_standin_weights` (random weights in the exact
architecture and key layout of the real files): FID values computed with them mean nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from unittest import mock

import numpy as np
import torch
from torch import Tensor, nn

import gansweep
from gansweep.data.images import DataMissingError, ChecksumError, fetch, load_split, prepared_meta_path
from gansweep.io import atomic_path, write_text
from gansweep.metrics.modes import METRICS
from gansweep.registry import Registry

FETCH_RULE = "fetch_weights"  # the Snakemake rule that fetches weights (named in error messages)
REFERENCE_RULE = "reference_stats"  # the Snakemake rule that writes reference statistics
_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")
_BUILD_LOCK = threading.Lock()


class WeightsMissingError(DataMissingError):
    """The Inception weights file is absent or could not be fetched; the message says where to put it."""


class WeightsChecksumError(ChecksumError):
    """The weights file's SHA-256 does not start with the expected prefix."""


# --------------------------------------------------------------------------------------------
# The two metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FidProtocol:
    """One FID variant: its feature extractor, official weights and reference convention.

    Calling it computes the Fréchet distance of two (mean, covariance) pairs, so
    ``METRICS[name](mu1, sigma1, mu2, sigma2)`` works like the other metrics."""

    name: str
    description: str
    url: str  # official weights
    sha256_prefix: str  # the official file's SHA-256 starts with this
    file_name: str  # under weights_dir
    dims: int
    default_split: str  # reference split
    preprocessing: str
    implementation: str

    def __call__(self, mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
        return frechet_distance(mu1, sigma1, mu2, sigma2)


FEATURE_EXTRACTORS: Registry[FidProtocol] = Registry("FID feature extractor")

FID = FEATURE_EXTRACTORS.register("fid")(
    METRICS.register("fid")(
        FidProtocol(
            name="fid",
            description="standard FID: pytorch-fid InceptionV3 (TF-ported 2015-12-05 weights), pool3, 2048-d",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            sha256_prefix="6726825d",
            file_name="pt_inception-2015-12-05-6726825d.pth",
            dims=2048,
            default_split="train",
            preprocessing="images in [0,1] (uint8/255); inside pytorch_fid.inception.InceptionV3("
            "resize_input=True, normalize_input=True): F.interpolate to 299x299 (bilinear, "
            "align_corners=False), 2x-1",
            implementation="pytorch-fid InceptionV3([3], use_fid_inception=True)",
        )
    )
)
FID_TV_LOGITS = FEATURE_EXTRACTORS.register("fid_tv_logits")(
    METRICS.register("fid_tv_logits")(
        FidProtocol(
            name="fid_tv_logits",
            description="NON-STANDARD (alpha-GAN authors): torchvision inception_v3 IMAGENET1K_V1, "
            "1000-d logits; not comparable with standard FID",
            url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            sha256_prefix="0cc3c7bd",
            file_name="inception_v3_google-0cc3c7bd.pth",
            dims=1000,
            default_split="test",
            preprocessing="images in [0,1] (uint8/255); Inception_V3_Weights.IMAGENET1K_V1.transforms(): "
            "resize 342 (bilinear, antialias), center-crop 299, ImageNet mean/std; then the model's "
            "transform_input=True",
            implementation="torchvision.models.inception_v3(aux_logits=True, transform_input=True), eval",
        )
    )
)


def _spec(metric: str) -> FidProtocol:
    return FEATURE_EXTRACTORS[metric]


# --------------------------------------------------------------------------------------------
# Weights: hashes, fetching, errors
# --------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[gansweep.fid] {message}", file=sys.stderr, flush=True)


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _prefix(metric: str, sha256_prefix: str | None) -> str:
    prefix = (sha256_prefix or _spec(metric).sha256_prefix).strip().lower()
    if not _PREFIX.match(prefix):
        raise ValueError(f"a SHA-256 prefix is 8 to 64 lowercase hex digits, not {sha256_prefix!r}")
    return prefix


def _where_to_put(metric: str, path: Path) -> str:
    spec = _spec(metric)
    return (
        f"Fetch it with the Snakemake rule `{FETCH_RULE}` (gansweep.metrics.fid.fetch_weights("
        f"{metric!r}, {str(path.parent)!r}), which downloads {spec.url}); on an offline cluster copy "
        f"the official file {spec.file_name} (SHA-256 starting {spec.sha256_prefix}) to {path}, or set "
        f"the config key fid.weights.{metric}.url to a local path or file:// URL of it"
    )


def weights_path(metric: str, weights_dir: str | os.PathLike) -> Path:
    """``<weights_dir>/<official file name>``: where :func:`fetch_weights` puts the file."""
    return Path(weights_dir) / _spec(metric).file_name


def verify_weights(metric: str, path: str | os.PathLike, sha256_prefix: str | None = None) -> str:
    """Full SHA-256 of ``path`` after checking that it starts with the expected prefix (the
    official one unless ``sha256_prefix`` is given); clear errors when missing or wrong."""
    path = Path(path)
    prefix = _prefix(metric, sha256_prefix)
    if not path.is_file():
        raise WeightsMissingError(f"{metric} Inception weights not found at {path}. {_where_to_put(metric, path)}.")
    digest = sha256_of(path)
    if not digest.startswith(prefix):
        raise WeightsChecksumError(
            f"{metric} weights {path} have SHA-256 {digest}, expected a SHA-256 starting with {prefix}. "
            f"Replace the file: {_where_to_put(metric, path)} (stand-in weights for smoke runs need "
            f"fid.weights.{metric}.sha256_prefix set to their own hash)."
        )
    return digest


def _write_sidecar(path: Path, digest: str) -> None:
    write_text(f"{digest}  {path.name}\n", path.with_name(path.name + ".sha256"))


def fetch_weights(
    metric: str, weights_dir: str | os.PathLike, url: str | None = None, sha256_prefix: str | None = None
) -> Path:
    """Put the verified weights of ``metric`` at ``<weights_dir>/<file name>``; returns that path.

    ``url`` (default: the official one) may be http(s), ``file://`` or a plain local path (offline
    clusters: a copy placed by hand). The bytes go to a hidden temp file next to the target, are
    hashed while streamed, and are renamed into place only when the SHA-256 starts with
    ``sha256_prefix`` (default: the official prefix); otherwise nothing is left behind and
    :class:`WeightsChecksumError` names the expected prefix, the actual hash and where to put the
    right file. A file already in place that verifies is kept (no download)."""
    spec = _spec(metric)
    prefix = _prefix(metric, sha256_prefix)
    dest = weights_path(metric, weights_dir)
    if dest.is_file():
        digest = sha256_of(dest)
        if digest.startswith(prefix):
            _log(f"{dest} exists and its SHA-256 {digest} starts with {prefix}; fetch skipped")
            _write_sidecar(dest, digest)
            return dest
        _log(f"{dest} exists but its SHA-256 {digest} does not start with {prefix}; fetching again")
    source = url or spec.url
    part = dest.with_name(f".{dest.name}.part")
    part_sidecar = part.with_name(part.name + ".sha256")
    try:
        try:
            digest = fetch(source, part)["sha256"]
        except DataMissingError as err:
            raise WeightsMissingError(
                f"could not fetch the {metric} weights from {source}: {err.__cause__ or err}. "
                f"{_where_to_put(metric, dest)}."
            ) from err
        if not digest.startswith(prefix):
            raise WeightsChecksumError(
                f"{source} has SHA-256 {digest}, expected a SHA-256 starting with {prefix}; nothing was "
                f"written to {dest}. Put the right file ({spec.file_name}, official URL {spec.url}) at {dest} "
                f"or point fid.weights.{metric}.url at a verified copy."
            )
        os.replace(part, dest)
    finally:
        for leftover in (part, part_sidecar):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    _write_sidecar(dest, digest)
    _log(f"{metric} weights verified (SHA-256 {digest}) at {dest}")
    return dest


# --------------------------------------------------------------------------------------------
# Building the networks offline
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _pytorch_fid_loader(state_dict_for: Callable[[nn.Module], dict]) -> Iterator[list]:
    """While active, pytorch-fid's weight download returns ``state_dict_for(model)`` (model = the
    Inception3 that ``fid_inception_v3`` is filling) and refuses any other URL. Yields the list of
    models built inside."""
    import pytorch_fid.inception as pfi

    built: list[nn.Module] = []
    build = pfi._inception_v3

    def capture(*args: Any, **kwargs: Any) -> nn.Module:
        model = build(*args, **kwargs)
        built.append(model)
        return model

    def loader(url: str, *args: Any, **kwargs: Any) -> dict:
        if url != pfi.FID_WEIGHTS_URL:
            raise RuntimeError(f"gansweep: unexpected weight download {url} while building the FID Inception")
        return state_dict_for(built[-1])

    with (
        _BUILD_LOCK,
        mock.patch.object(pfi, "load_state_dict_from_url", loader),
        mock.patch.object(pfi, "_inception_v3", capture),
    ):
        yield built


def _build_fid(state_dict: dict) -> nn.Module:
    """pytorch-fid's ``InceptionV3([pool3], resize_input, normalize_input, use_fid_inception)``
    loaded (strictly, by pytorch-fid itself) from ``state_dict``."""
    from pytorch_fid.inception import InceptionV3

    with _pytorch_fid_loader(lambda model: state_dict):
        return InceptionV3(
            [InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True, use_fid_inception=True
        )


def _tv_inception() -> nn.Module:
    """torchvision's Inception3 as ``inception_v3(weights=IMAGENET1K_V1)`` builds it, unloaded."""
    from torchvision.models import inception_v3

    return inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False, num_classes=1000)


class _Pool3(nn.Module):
    def __init__(self, inception: nn.Module):
        super().__init__()
        self.inception = inception

    def forward(self, x: Tensor) -> Tensor:
        return self.inception(x)[0]  # [B, 2048, 1, 1]


@contextlib.contextmanager
def _full_fp32() -> Iterator[None]:
    """No TF32 in convolutions or matmuls while features are computed (GPU-independent values)."""
    cudnn, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = cudnn, matmul


class FeatureExtractor(nn.Module):
    """Images float NCHW in [0, 1], any resolution → features float64 [B, dims] (eval mode, no grad)."""

    def __init__(self, metric: str, net: nn.Module, preprocess: nn.Module, weights_sha256: str, weights_file: Path):
        super().__init__()
        self.metric, self.dims = metric, _spec(metric).dims
        self.net, self.preprocess = net, preprocess
        self.weights_sha256, self.weights_file = weights_sha256, Path(weights_file)
        self.requires_grad_(False).eval()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def train(self, mode: bool = True) -> "FeatureExtractor":
        return super().train(False)  # always eval: BN running statistics, no dropout

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images [B, 3, H, W], got {tuple(x.shape)}")
        x = x.to(self.device, torch.float32)
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"images must lie in [0, 1], got [{x.min().item():.3g}, {x.max().item():.3g}]")
        with _full_fp32():
            out = self.net(self.preprocess(x.contiguous()))
        out = out.reshape(out.shape[0], -1).double()
        if out.shape[1] != self.dims:
            raise RuntimeError(f"{self.metric} extractor gave {out.shape[1]} features, expected {self.dims}")
        return out

    def protocol(self) -> dict[str, Any]:
        spec = _spec(self.metric)
        return {
            "metric": self.metric,
            "description": spec.description,
            "implementation": spec.implementation,
            "preprocessing": spec.preprocessing,
            "dims": self.dims,
            "weights_file": self.weights_file.name,
            "weights_sha256": self.weights_sha256,
            "official_weights": self.weights_sha256.startswith(spec.sha256_prefix),
            "tf32": False,
        }


def _load_state_dict(metric: str, path: Path, digest: str) -> dict:
    """``torch.load`` with ``weights_only=True``; the official file (identified by its hash) may
    fall back to a full unpickle, as torch.hub (which pytorch-fid uses) would do anyway."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not digest.startswith(_spec(metric).sha256_prefix):
            raise
        return torch.load(path, map_location="cpu", weights_only=False)


def load_extractor(
    metric: str, weights_path: str | os.PathLike, device: str | torch.device = "cpu", sha256_prefix: str | None = None
) -> FeatureExtractor:
    """The verified, offline-built feature extractor of ``metric`` on ``device``.

    ``weights_path`` is the weights file (or the folder holding it under its official name). Its
    SHA-256 must start with ``sha256_prefix`` (the official prefix by default)."""
    path = Path(weights_path)
    if path.is_dir():
        path = path / _spec(metric).file_name
    digest = verify_weights(metric, path, sha256_prefix)
    state_dict = _load_state_dict(metric, path, digest)
    if metric == "fid":
        net: nn.Module = _Pool3(_build_fid(state_dict))
        preprocess: nn.Module = nn.Identity()
    elif metric == "fid_tv_logits":
        from torchvision.models import Inception_V3_Weights

        net = _tv_inception()
        net.load_state_dict(state_dict, strict=True)
        preprocess = Inception_V3_Weights.IMAGENET1K_V1.transforms()
    else:
        raise KeyError(f"no extractor builder for metric {metric!r}")
    return FeatureExtractor(metric, net, preprocess, digest, path).to(resolve_device(device))


def resolve_device(name: str | torch.device) -> torch.device:
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but torch sees no CUDA device")
    return torch.device(name)


# --------------------------------------------------------------------------------------------
# Stand-in weights (tests and smoke runs only)
# --------------------------------------------------------------------------------------------


def _random_init(model: nn.Module, seed: int) -> None:
    """Variance-preserving random weights (He for conv + ReLU, 1/sqrt(fan_in) for linear), BN
    identity, so the random network's features stay O(1) through its depth."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=gen)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="linear", generator=gen)
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.zero_()


def standin_state_dict(metric: str, seed: int = 0) -> dict[str, Tensor]:
    """Random weights with exactly the keys and shapes the real file of ``metric`` loads into."""
    if metric == "fid":
        import pytorch_fid.inception as pfi

        def init(model: nn.Module) -> dict:
            _random_init(model, seed)
            return model.state_dict()

        with _pytorch_fid_loader(init):
            model = pfi.fid_inception_v3()
    elif metric == "fid_tv_logits":
        model = _tv_inception()
        _random_init(model, seed)
    else:
        raise KeyError(f"no stand-in for metric {metric!r}")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def write_standin_weights(metric: str, path: str | os.PathLike, seed: int = 0) -> str:
    """TEST / SMOKE USE ONLY: write random weights in the exact architecture and key layout of
    ``metric``'s official file to ``path`` (atomically); returns the file's SHA-256 (hex). Use the
    returned hash (or its first 8+ characters) as ``sha256_prefix``. FIDs computed with these
    weights are meaningless."""
    state = standin_state_dict(metric, seed)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    digest = sha256_of(path)
    _log(f"wrote STAND-IN (random) {metric} weights to {path}, SHA-256 {digest}")
    return digest


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


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


def _check_extractor(metric: str, extractor: FeatureExtractor) -> None:
    if getattr(extractor, "metric", metric) != metric:
        raise ValueError(f"extractor is for {extractor.metric!r}, not {metric!r}")


def _progress(done: int, total: int, start: float, what: str) -> None:
    rate = done / max(time.monotonic() - start, 1e-9)
    _log(f"  {what}: {done:,}/{total:,} images, {rate:,.0f}/s")


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
) -> tuple[np.ndarray, np.ndarray, int]:
    """(mu, sigma, n) of ``metric``'s features over the prepared uint8 images of one split (the
    first ``max_images`` of it if given), streamed in batches. Pass ``extractor`` to reuse one."""
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
    stats, start, last = FeatureStats(), time.monotonic(), time.monotonic()
    for lo in range(0, total, batch_size):
        raw = torch.from_numpy(np.array(images[lo : min(lo + batch_size, total)]))  # a writable copy
        x = to_unit_range(raw.to(extractor.device).permute(0, 3, 1, 2))
        stats.update(extractor(x))
        if time.monotonic() - last > 30:
            last = time.monotonic()
            _progress(stats.n, total, start, f"{metric} {dataset} {split}")
    return stats.mean(), stats.cov(), stats.n


@torch.no_grad()
def generated_stats(
    metric: str,
    sample_fn: Callable[[int], Tensor],
    n: int,
    batch_size: int,
    extractor: FeatureExtractor,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(mu, sigma, n) of ``metric``'s features over ``n`` generated images; ``sample_fn(k)`` returns
    the next ``k`` images in [−1, 1] (NCHW; the caller owns the evaluation seed). ``device`` is
    where the features go (the extractor's device by default)."""
    _check_extractor(metric, extractor)
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 generated images, asked for {n}")
    stats, start, last = FeatureStats(), time.monotonic(), time.monotonic()
    while stats.n < n:
        k = min(batch_size, n - stats.n)
        x = sample_fn(k)
        if x.shape[0] != k:
            raise ValueError(f"sample_fn({k}) returned {x.shape[0]} images")
        feats = extractor(to_unit_range(x))
        stats.update(feats if device is None else feats.to(resolve_device(device)))
        if time.monotonic() - last > 30:
            last = time.monotonic()
            _progress(stats.n, n, start, f"{metric} generated")
    return stats.mean(), stats.cov(), stats.n


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}) by pytorch-fid's ``calculate_frechet_distance``
    (SciPy sqrtm; a 1e-6 diagonal offset when the product is singular). Its notice about that
    offset goes to stderr, and SciPy 1.17's deprecation warning about ``disp`` is silenced (the
    project bounds SciPy < 1.18, where ``disp`` is removed)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    mu1, mu2 = (np.asarray(m, dtype=np.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (np.asarray(s, dtype=np.float64) for s in (sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.filterwarnings("ignore", message=".*`disp` argument is deprecated.*", category=DeprecationWarning)
        return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))


# --------------------------------------------------------------------------------------------
# Cached reference statistics
# --------------------------------------------------------------------------------------------


def save_stats(path: str | os.PathLike, mu: Any, sigma: Any, n: int, protocol: dict) -> Path:
    """npz (keys ``mu``, ``sigma`` as pytorch-fid reads them, plus ``n`` and ``protocol`` as a JSON
    string), written atomically."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1 or sigma.shape != mu.shape * 2:
        raise ValueError(f"mu {mu.shape} and sigma {sigma.shape} are not a mean and its covariance")
    record = {**protocol, "n": int(n), "dims": int(mu.shape[0])}
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, mu=mu, sigma=sigma, n=np.int64(n), protocol=np.array(json.dumps(record, sort_keys=True)))
    return path


def load_stats(path: str | os.PathLike) -> dict[str, Any]:
    """``{"mu", "sigma", "n", "protocol"}`` from :func:`save_stats` (``protocol`` a dict)."""
    with np.load(path, allow_pickle=False) as f:
        out = {"mu": f["mu"].astype(np.float64), "sigma": f["sigma"].astype(np.float64)}
        out["n"] = int(f["n"]) if "n" in f else None
        out["protocol"] = json.loads(str(f["protocol"])) if "protocol" in f else {}
    return out


def check_compatible(ref: dict[str, Any], extractor: FeatureExtractor) -> None:
    """Raise unless reference statistics were made with this extractor's metric and weights."""
    proto = ref.get("protocol", {})
    problems = [
        f"{key} {proto.get(key)!r} vs extractor {value!r}"
        for key, value in (("metric", extractor.metric), ("weights_sha256", extractor.weights_sha256))
        if proto.get(key) != value
    ]
    if ref["mu"].shape != (extractor.dims,):
        problems.append(f"dims {ref['mu'].shape} vs {extractor.dims}")
    if problems:
        raise ValueError("reference statistics do not match the feature extractor: " + "; ".join(problems))


def reference_stats_name(metric: str, dataset: str, split: str, resolution: int, weights_sha256: str) -> str:
    """File name encoding everything the statistics depend on, e.g. ``fid_cifar10_train_32px_6726825d.npz``."""
    return f"{metric}_{dataset}_{split}_{resolution}px_{weights_sha256[:8]}.npz"


def _library_versions() -> dict[str, str]:
    import scipy
    import torchvision

    try:
        import pytorch_fid

        fid_version = pytorch_fid.__version__
    except Exception:  # pragma: no cover
        fid_version = "unknown"
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pytorch_fid": fid_version,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def compute_reference_stats(
    metric: str,
    dataset: str,
    data_root: str | os.PathLike,
    split: str | None,
    weights_path: str | os.PathLike,
    out_path: str | os.PathLike,
    device: str | torch.device = "auto",
    batch_size: int = 200,
    max_images: int | None = None,
    sha256_prefix: str | None = None,
) -> dict[str, Any]:
    """The reference-statistics rule: stream one prepared split through ``metric``'s extractor and
    write ``out_path`` (npz with its protocol); returns the protocol. ``split`` None = the metric's
    convention (train for ``fid``, test for ``fid_tv_logits``)."""
    split = split or _spec(metric).default_split
    device = resolve_device(device)
    started = time.monotonic()
    extractor = load_extractor(metric, weights_path, device, sha256_prefix)
    mu, sigma, n = reference_stats(
        metric, dataset, data_root, split, None, device, batch_size, max_images, extractor=extractor
    )
    meta = json.loads(prepared_meta_path(dataset, data_root).read_text())
    record = {
        **extractor.protocol(),
        "dataset": dataset,
        "split": split,
        "resolution": int(meta["resolution"]),
        "n": int(n),
        "n_split": int(meta["counts"][split]),
        "max_images": max_images,
        "input": "prepared uint8 arrays / 255 (generated images: [-1,1] quantised to uint8, / 255)",
        "data": {
            "settings": meta.get("settings"),
            "content_sha256": meta.get("content_sha256"),
            "source_md5": [f.get("md5") for f in (meta.get("source") or {}).get("files", [])],
        },
        "gansweep_version": gansweep.__version__,
        "versions": _library_versions(),
        "device": str(device),
        "seconds": round(time.monotonic() - started, 1),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_stats(out_path, mu, sigma, n, record)
    _log(f"{metric} reference statistics of {dataset} {split} ({n:,} images, {mu.shape[0]}-d) -> {out_path}")
    return record
