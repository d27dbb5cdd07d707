"""The feature extractors, built offline from a verified weights file.

``fid``: pytorch-fid's public ``InceptionV3([pool3], resize_input, normalize_input,
use_fid_inception=True)``. Its constructor loads the weights through torch.hub's checkpoint cache
under their published name; for the duration of the build that cache is a private temporary
folder holding only a link to our SHA-256-checked file, so the library's own loader (and its
strict ``load_state_dict``) reads our file and never downloads, and the user's cache is untouched.

``fid_tv_logits``: torchvision's ``inception_v3`` as it is built for ``IMAGENET1K_V1``, loaded
strictly from the file (torchvision's own loader would insist on the official hash, which
stand-in weights cannot have).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gansweep.metrics.fid.protocols import spec
from gansweep.metrics.fid.weights import verify_weights

_BUILD_LOCK = threading.Lock()  # torch.hub's cache folder is process-global


@contextlib.contextmanager
def hub_cache_holding(path: Path, file_name: str) -> Iterator[Path]:
    """torch.hub's checkpoint cache is, while active, a private folder whose only entry is
    ``checkpoints/<file_name>`` → ``path``. Yields the folder."""
    with _BUILD_LOCK, tempfile.TemporaryDirectory(prefix="gansweep-hub-") as hub:
        checkpoints = Path(hub) / "checkpoints"
        checkpoints.mkdir()
        try:
            (checkpoints / file_name).symlink_to(Path(path).resolve())
        except OSError:  # no symlinks on this file system: a copy
            shutil.copyfile(path, checkpoints / file_name)
        previous = torch.hub.get_dir()
        torch.hub.set_dir(hub)
        try:
            yield Path(hub)
        finally:
            torch.hub.set_dir(previous)


def _build_fid(path: Path) -> nn.Module:
    """pytorch-fid's pool3 ``InceptionV3``, its weights read from ``path`` by pytorch-fid itself."""
    from pytorch_fid.inception import InceptionV3

    with hub_cache_holding(path, spec("fid").file_name):
        return InceptionV3(
            [InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
            resize_input=True,
            normalize_input=True,
            use_fid_inception=True,
        )


def tv_inception() -> nn.Module:
    """torchvision's Inception3 as ``inception_v3(weights=IMAGENET1K_V1)`` builds it, unloaded."""
    from torchvision.models import inception_v3

    return inception_v3(
        weights=None, aux_logits=True, transform_input=True, init_weights=False, num_classes=1000
    )


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


def resolve_device(name: str | torch.device) -> torch.device:
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but torch sees no CUDA device")
    return torch.device(name)


class FeatureExtractor(nn.Module):
    """Images float NCHW in [0, 1], any resolution → features float64 [B, dims] (eval mode, no grad)."""

    def __init__(
        self,
        metric: str,
        net: nn.Module,
        preprocess: nn.Module,
        weights_sha256: str,
        weights_file: Path,
    ):
        super().__init__()
        self.metric, self.dims = metric, spec(metric).dims
        self.net, self.preprocess = net, preprocess
        self.weights_sha256, self.weights_file = weights_sha256, Path(weights_file)
        self.requires_grad_(False).eval()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # always eval: BN running statistics, no dropout

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images [B, 3, H, W], got {tuple(x.shape)}")
        x = x.to(self.device, torch.float32)
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"images must lie in [0, 1], got [{x.min().item():.3g}, {x.max().item():.3g}]"
            )
        with _full_fp32():
            out = self.net(self.preprocess(x.contiguous()))
        out = out.reshape(out.shape[0], -1).double()
        if out.shape[1] != self.dims:
            raise RuntimeError(
                f"{self.metric} extractor gave {out.shape[1]} features, expected {self.dims}"
            )
        return out

    def protocol(self) -> dict[str, Any]:
        s = spec(self.metric)
        return {
            "metric": self.metric,
            "description": s.description,
            "implementation": s.implementation,
            "preprocessing": s.preprocessing,
            "dims": self.dims,
            "weights_file": self.weights_file.name,
            "weights_sha256": self.weights_sha256,
            "official_weights": self.weights_sha256.startswith(s.sha256_prefix),
            "tf32": False,
        }


def _load_state_dict(metric: str, path: Path, digest: str) -> dict:
    """``torch.load`` with ``weights_only=True``; the official file (identified by its hash) may
    fall back to a full unpickle, as torch.hub would do anyway."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not digest.startswith(spec(metric).sha256_prefix):
            raise
        return torch.load(path, map_location="cpu", weights_only=False)


def load_extractor(
    metric: str,
    weights_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    sha256_prefix: str | None = None,
) -> FeatureExtractor:
    """The verified, offline-built feature extractor of ``metric`` on ``device``.

    ``weights_path`` is the weights file (or the folder holding it under its official name). Its
    SHA-256 must start with ``sha256_prefix`` (the official prefix by default)."""
    path = Path(weights_path)
    if path.is_dir():
        path = path / spec(metric).file_name
    digest = verify_weights(metric, path, sha256_prefix)
    if metric == "fid":
        net: nn.Module = _Pool3(_build_fid(path))
        preprocess: nn.Module = nn.Identity()
    elif metric == "fid_tv_logits":
        from torchvision.models import Inception_V3_Weights

        net = tv_inception()
        net.load_state_dict(_load_state_dict(metric, path, digest), strict=True)
        preprocess = Inception_V3_Weights.IMAGENET1K_V1.transforms()
    else:
        raise KeyError(f"no extractor builder for metric {metric!r}")
    return FeatureExtractor(metric, net, preprocess, digest, path).to(resolve_device(device))
