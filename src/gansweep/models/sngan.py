"""SNGAN ResNet for 32×32 (Miyato et al. 2018; the CIFAR-10 nets of sngan_projection /
mimicry ``sngan_32``), unconditional.

G: z (128) → Linear → 256×4×4 → 3 up-blocks (256 ch; 4→8→16→32) → BN, ReLU,
   conv3×3 → 3, tanh.
   Up-block: residual BN, ReLU, nearest-upsample ×2, conv3×3, BN, ReLU, conv3×3;
   shortcut nearest-upsample ×2 + conv1×1 (computed as conv1×1 then upsample, which is
   the same function since a 1×1 conv acts per pixel and nearest upsampling copies pixels).
D: spectral norm on every conv and linear layer
   (``torch.nn.utils.parametrizations.spectral_norm``, one power iteration per training
   forward); 128 channels throughout:
   optimized block 3→128 (conv3×3, ReLU, conv3×3, avgpool 2; shortcut avgpool 2 +
   conv1×1) → down block (ReLU, conv, ReLU, conv, avgpool; shortcut conv1×1 + avgpool)
   → two plain blocks (ReLU, conv, ReLU, conv; identity shortcut) → ReLU → global *sum*
   pooling → SN linear 128→1. 32→16→8→8→8 px.

Init (the Chainer original's choice, also mimicry's): Xavier-uniform with gain √2 for the
two 3×3 convs of every residual branch, gain 1 for shortcut 1×1 convs, G's input linear,
G's output conv and D's output linear; all biases 0 (Chainer's default; mimicry keeps
PyTorch's default bias init instead). BatchNorm: weight 1, bias 0. Spectral norm is added
after the init, so its power-iteration vectors are computed from the initialised weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from gansweep.models.common import (
    GanPair,
    GradStatsMixin,
    check_unconditional,
    register_gan,
    reject_labels,
)

RESIDUAL_GAIN = math.sqrt(2.0)


def _xavier_(layer: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _conv(cin: int, cout: int, k: int, gain: float) -> nn.Conv2d:
    return _xavier_(nn.Conv2d(cin, cout, k, 1, k // 2), gain)


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    """Pre-activation residual up-block of the SNGAN generator."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.b1 = nn.BatchNorm2d(cin)
        self.c1 = _conv(cin, cout, 3, RESIDUAL_GAIN)
        self.b2 = nn.BatchNorm2d(cout)
        self.c2 = _conv(cout, cout, 3, RESIDUAL_GAIN)
        self.c_sc = _conv(cin, cout, 1, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = self.c1(_up2(F.relu(self.b1(x))))
        h = self.c2(F.relu(self.b2(h)))
        return h + _up2(self.c_sc(x))


class DBlock(nn.Module):
    """Residual block of the SNGAN discriminator (pre-activation ReLU)."""

    def __init__(self, cin: int, cout: int, downsample: bool):
        super().__init__()
        self.downsample = downsample
        self.c1 = _conv(cin, cout, 3, RESIDUAL_GAIN)
        self.c2 = _conv(cout, cout, 3, RESIDUAL_GAIN)
        self.c_sc = _conv(cin, cout, 1, 1.0) if (downsample or cin != cout) else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.c1(F.relu(x))))
        sc = x if self.c_sc is None else self.c_sc(x)
        if self.downsample:
            h = F.avg_pool2d(h, 2)
            sc = F.avg_pool2d(sc, 2)
        return h + sc


class OptimizedDBlock(nn.Module):
    """First D block: no pre-activation on the image; always downsamples."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.c1 = _conv(cin, cout, 3, RESIDUAL_GAIN)
        self.c2 = _conv(cout, cout, 3, RESIDUAL_GAIN)
        self.c_sc = _conv(cin, cout, 1, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class SNGANGenerator32(GradStatsMixin, nn.Module):
    def __init__(self, z_dim: int = 128, ngf: int = 256, bottom: int = 4):
        super().__init__()
        self.z_dim, self.ngf, self.bottom = z_dim, ngf, bottom
        self.linear = _xavier_(nn.Linear(z_dim, ngf * bottom * bottom), 1.0)
        self.block1 = GBlock(ngf, ngf)
        self.block2 = GBlock(ngf, ngf)
        self.block3 = GBlock(ngf, ngf)
        self.bn = nn.BatchNorm2d(ngf)
        self.conv_out = _conv(ngf, 3, 3, 1.0)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        reject_labels(y)
        h = self.linear(z.reshape(z.shape[0], self.z_dim))
        h = h.reshape(z.shape[0], self.ngf, self.bottom, self.bottom)
        h = self.block3(self.block2(self.block1(h)))
        return torch.tanh(self.conv_out(F.relu(self.bn(h))))


class SNGANDiscriminator32(GradStatsMixin, nn.Module):
    def __init__(self, ndf: int = 128):
        super().__init__()
        self.block1 = OptimizedDBlock(3, ndf)
        self.block2 = DBlock(ndf, ndf, downsample=True)
        self.block3 = DBlock(ndf, ndf, downsample=False)
        self.block4 = DBlock(ndf, ndf, downsample=False)
        self.linear = _xavier_(nn.Linear(ndf, 1), 1.0)
        # Spectral norm on every weight layer, after the init above.
        for _, layer in self.layers_for_grad_stats():
            spectral_norm(layer)

    def forward(self, x: Tensor) -> Tensor:
        h = self.block4(self.block3(self.block2(self.block1(x))))
        h = F.relu(h).sum(dim=(2, 3))  # global sum pooling
        return self.linear(h).flatten()


@register_gan("sngan_resnet32")
def sngan_resnet32(z_dim: int | None = None, n_classes: int = 0) -> GanPair:
    """Unconditional SNGAN CIFAR-10 ResNet: G 256 channels, D 128 channels, z = 128."""
    check_unconditional("sngan_resnet32", n_classes)
    z_dim = 128 if z_dim is None else z_dim
    g = SNGANGenerator32(z_dim)
    d = SNGANDiscriminator32()
    return GanPair(g, d, z_dim, 32, 0, "sngan_resnet32")
