"""DCGAN-family networks (Radford et al. 2016): transposed-conv G, strided-conv D.

``dcgan32``: seed 001 Appendix B.1 (Tables 1–2), 32×32 (CIFAR-10-sized).
  D: five 4×4 stride-2 padding-1 convs 3→32→64→128→256→1 (32→16→8→4→2→1 px). Table 1
  marks BN "Yes" on all four hidden convs, *including the first*; standard DCGAN has no
  BN on D's first layer, but we follow the table. LeakyReLU 0.2 on hidden layers; the
  table's final sigmoid is left to the losses (D returns logits). The WGAN variant
  (Tables 4–5) is the same network used with the ``wgan`` loss.
  G: z (100) as 100×1×1 → ConvT 4×4 s1 **p0** → 1024×4×4 (Table 2 lists padding 1 for
  every layer, but a k4 s1 p1 ConvT of a 1×1 input gives 2×2, so the first layer must be
  p0 to reach 32×32 in three doublings) → ConvT 4×4 s2 p1 → 512×8×8 → 256×16×16 →
  3×32×32, BN + ReLU on hidden layers, tanh.
  Layers carry biases, since B.2 gives a bias initialisation (Constant 0); a bias directly
  before BN is redundant but harmless.

``dcgan64``: the (αD, αG)-GAN authors' CelebA net (protocol §4, [R-HEAD]
  experiments/celeba.py): G ConvT 100→512 (k4 s1 p0) → 256 → 128 → 64 (k4 s2 p1,
  BN + ReLU) → 3 (k4 s2 p1) + tanh; D Conv 3→64 (k4 s2 p1) + LReLU 0.2 (no BN) → 128 →
  256 → 512 (BN + LReLU) → Conv 512→1 (k4 s1 p0). No biases.

``dcgan112``: the authors' LSUN Classroom net: as ``dcgan64`` with G's first ConvT k7
  (1×1 → 7×7, then 7→14→28→56→112) and D's last conv k7 (7×7 → 1×1).

Init for all three: conv / conv-transpose weights N(0, 0.02), biases 0, BatchNorm weight
N(1, 0.02), bias 0 (:func:`gansweep.models.common.dcgan_init_`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from gansweep.models.common import (
    GanPair,
    GradStatsMixin,
    check_unconditional,
    dcgan_init_,
    register_gan,
    reject_labels,
)


class DCGANGenerator(GradStatsMixin, nn.Module):
    """z [B, z_dim] → ConvT(k_first, s1, p0) → [ConvT(4, 2, 1), BN, ReLU]* → ConvT → tanh."""

    _grad_stats_prefix = "main."

    def __init__(
        self,
        z_dim: int,
        widths: Sequence[int],
        first_kernel: int = 4,
        bias: bool = False,
        out_channels: int = 3,
    ):
        super().__init__()
        self.z_dim = z_dim
        layers: list[tuple[str, nn.Module]] = []
        in_ch = z_dim
        for i, width in enumerate(widths, start=1):
            if i == 1:
                conv = nn.ConvTranspose2d(in_ch, width, first_kernel, 1, 0, bias=bias)
            else:
                conv = nn.ConvTranspose2d(in_ch, width, 4, 2, 1, bias=bias)
            layers += [
                (f"conv{i}", conv),
                (f"bn{i}", nn.BatchNorm2d(width)),
                (f"relu{i}", nn.ReLU(inplace=True)),
            ]
            in_ch = width
        n = len(widths) + 1
        layers += [
            (f"conv{n}", nn.ConvTranspose2d(in_ch, out_channels, 4, 2, 1, bias=bias)),
            ("tanh", nn.Tanh()),
        ]
        self.main = nn.Sequential(OrderedDict(layers))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        reject_labels(y)
        return self.main(z.reshape(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(GradStatsMixin, nn.Module):
    """x [B, 3, R, R] → [Conv(4, 2, 1), (BN), LReLU 0.2]* → Conv(last) → logits [B]."""

    _grad_stats_prefix = "main."

    def __init__(
        self,
        widths: Sequence[int],
        last_kernel: int,
        last_stride: int,
        last_padding: int,
        bn_first: bool,
        bias: bool = False,
        in_channels: int = 3,
        slope: float = 0.2,
    ):
        super().__init__()
        layers: list[tuple[str, nn.Module]] = []
        in_ch = in_channels
        for i, width in enumerate(widths, start=1):
            layers.append((f"conv{i}", nn.Conv2d(in_ch, width, 4, 2, 1, bias=bias)))
            if i > 1 or bn_first:
                layers.append((f"bn{i}", nn.BatchNorm2d(width)))
            layers.append((f"lrelu{i}", nn.LeakyReLU(slope, inplace=True)))
            in_ch = width
        n = len(widths) + 1
        layers.append(
            (f"conv{n}", nn.Conv2d(in_ch, 1, last_kernel, last_stride, last_padding, bias=bias))
        )
        self.main = nn.Sequential(OrderedDict(layers))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x).flatten()


def _pair(name, z_dim, resolution, generator, discriminator) -> GanPair:
    dcgan_init_(generator.modules())
    dcgan_init_(discriminator.modules())
    return GanPair(generator, discriminator, z_dim, resolution, 0, name)


@register_gan("dcgan32")
def dcgan32(z_dim: int | None = None, n_classes: int = 0) -> GanPair:
    """Seed 001 Tables 1–2: 32×32 DCGAN (BN on all hidden D layers, biases, z = 100)."""
    check_unconditional("dcgan32", n_classes)
    z_dim = 100 if z_dim is None else z_dim
    g = DCGANGenerator(z_dim, [1024, 512, 256], first_kernel=4, bias=True)
    d = DCGANDiscriminator(
        [32, 64, 128, 256], last_kernel=4, last_stride=2, last_padding=1, bn_first=True, bias=True
    )
    return _pair("dcgan32", z_dim, 32, g, d)


def _alpha_gan_dcgan(name: str, resolution: int, edge_kernel: int, z_dim, n_classes) -> GanPair:
    """The (αD, αG)-GAN image DCGAN: no biases, no BN on D's first layer; ``edge_kernel`` is
    the kernel of G's first and D's last layer (4 for 64×64, 7 for 112×112)."""
    check_unconditional(name, n_classes)
    z_dim = 100 if z_dim is None else z_dim
    g = DCGANGenerator(z_dim, [512, 256, 128, 64], first_kernel=edge_kernel)
    d = DCGANDiscriminator(
        [64, 128, 256, 512], last_kernel=edge_kernel, last_stride=1, last_padding=0, bn_first=False
    )
    return _pair(name, z_dim, resolution, g, d)


@register_gan("dcgan64")
def dcgan64(z_dim: int | None = None, n_classes: int = 0) -> GanPair:
    """(αD, αG)-GAN CelebA 64×64 DCGAN (no biases, no BN on D's first layer, z = 100)."""
    return _alpha_gan_dcgan("dcgan64", 64, 4, z_dim, n_classes)


@register_gan("dcgan112")
def dcgan112(z_dim: int | None = None, n_classes: int = 0) -> GanPair:
    """(αD, αG)-GAN LSUN Classroom 112×112 DCGAN: dcgan64 with k7 first G / last D layer."""
    return _alpha_gan_dcgan("dcgan112", 112, 7, z_dim, n_classes)
