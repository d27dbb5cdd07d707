"""Stand-in weights (TESTS AND SMOKE RUNS ONLY): random weights in the exact architecture and key
layout of the official files. FID values computed with them mean nothing."""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from gansweep.io import save_torch
from gansweep.metrics.fid.extractor import tv_inception
from gansweep.metrics.fid.weights import log, sha256_of


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


def fid_inception_architecture() -> nn.Module:
    """The network pytorch-fid's ``fid_inception_v3`` fills, built from public constructors only
    (torchvision's Inception3 with 1008 classes, no aux head, and pytorch-fid's patched blocks).
    Loading a stand-in through pytorch-fid's own strict loader checks this layout."""
    from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


def standin_state_dict(metric: str, seed: int = 0) -> dict[str, Tensor]:
    """Random weights with exactly the keys and shapes the real file of ``metric`` loads into."""
    if metric == "fid":
        model = fid_inception_architecture()
    elif metric == "fid_tv_logits":
        model = tv_inception()
    else:
        raise KeyError(f"no stand-in for metric {metric!r}")
    _random_init(model, seed)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def write_standin_weights(metric: str, path: str | os.PathLike, seed: int = 0) -> str:
    """TEST / SMOKE USE ONLY: write random weights in the exact architecture and key layout of
    ``metric``'s official file to ``path`` (atomically); returns the file's SHA-256 (hex). Use the
    returned hash (or its first 8+ characters) as ``sha256_prefix``. FIDs computed with these
    weights are meaningless."""
    state = standin_state_dict(metric, seed)
    save_torch(state, path)
    digest = sha256_of(path)
    log(f"wrote STAND-IN (random) {metric} weights to {path}, SHA-256 {digest}")
    return digest
