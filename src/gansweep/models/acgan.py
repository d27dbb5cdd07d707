"""AC-GAN for 32×32 (Odena et al. 2017), as in seed 001 Appendix B.5 (Tables 7–8).

G: input 110 = z (100) concatenated with a one-hot label (10) → Linear 110 → 384·4·4 +
   ReLU, reshaped to 384×4×4 → ConvT 5×5 s2 (padding 2, output_padding 1) → 192×8×8,
   BN, ReLU → 96×16×16, BN, ReLU → 3×32×32, tanh.
   Table 8 says "Linear … 384 feature maps"; three stride-2 ConvTs reach 32×32 only from a
   4×4 map, so we read it as 384 *channels* at 4×4 (Odena et al.'s CIFAR-10 G does the
   same: a linear layer to 384×4×4). Padding is not in the table: p2 + output_padding 1
   makes each 5×5 stride-2 ConvT exactly double the size (TF "SAME").
D: six 3×3 convs, padding 1, strides 2,1,2,1,2,1, widths 16, 32, 64, 128, 256, 512, each
   followed by (BN on all but the first), LeakyReLU 0.2 and Dropout 0.5 (elementwise
   ``nn.Dropout``, in that order; the table lists BN, dropout and nonlinearity per row but
   not their order) → 512×4×4 → flatten → Linear 8192 → 11 = 1 source logit + 10 class
   logits. The table's "soft-sigmoid" is left to the losses: D returns raw
   ``(source_logits [B], class_logits [B, n_classes])``.
Init (Table 9): conv / conv-transpose / linear weights N(0, 0.02), biases 0 (all layers
have biases); BatchNorm weight N(1, 0.02), bias 0.

``generator(z, y)``: y is integer labels [B]. With ``y=None`` labels are drawn uniformly
from the global RNG (convenient for sampling, e.g. FID); training code should pass y.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gansweep.models.common import GanPair, GradStatsMixin, dcgan_init_, register_gan


class ACGANGenerator32(GradStatsMixin, nn.Module):
    def __init__(self, z_dim: int = 100, n_classes: int = 10, base: int = 384):
        super().__init__()
        self.z_dim, self.n_classes, self.base = z_dim, n_classes, base
        self.linear = nn.Linear(z_dim + n_classes, base * 4 * 4)
        self.main = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.ConvTranspose2d(base, 192, 5, 2, 2, output_padding=1)),
                    ("bn1", nn.BatchNorm2d(192)),
                    ("relu1", nn.ReLU(inplace=True)),
                    ("conv2", nn.ConvTranspose2d(192, 96, 5, 2, 2, output_padding=1)),
                    ("bn2", nn.BatchNorm2d(96)),
                    ("relu2", nn.ReLU(inplace=True)),
                    ("conv3", nn.ConvTranspose2d(96, 3, 5, 2, 2, output_padding=1)),
                    ("tanh", nn.Tanh()),
                ]
            )
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        b = z.shape[0]
        if y is None:
            y = torch.randint(self.n_classes, (b,), device=z.device)
        onehot = F.one_hot(y.reshape(b).long(), self.n_classes).to(z.dtype)
        h = torch.cat([z.reshape(b, self.z_dim), onehot], dim=1)
        h = F.relu(self.linear(h)).reshape(b, self.base, 4, 4)
        return self.main(h)


class ACGANDiscriminator32(GradStatsMixin, nn.Module):
    """Returns ``(source_logits [B], class_logits [B, n_classes])``."""

    _grad_stats_prefix = "main."

    def __init__(self, n_classes: int = 10, dropout: float = 0.5, slope: float = 0.2):
        super().__init__()
        self.n_classes = n_classes
        widths = [16, 32, 64, 128, 256, 512]
        strides = [2, 1, 2, 1, 2, 1]
        layers: list[tuple[str, nn.Module]] = []
        cin = 3
        for i, (width, stride) in enumerate(zip(widths, strides), start=1):
            layers.append((f"conv{i}", nn.Conv2d(cin, width, 3, stride, 1)))
            if i > 1:
                layers.append((f"bn{i}", nn.BatchNorm2d(width)))
            layers.append((f"lrelu{i}", nn.LeakyReLU(slope, inplace=True)))
            layers.append((f"drop{i}", nn.Dropout(dropout)))
            cin = width
        layers.append(("flatten", nn.Flatten(1)))
        layers.append(("linear", nn.Linear(cin * 4 * 4, 1 + n_classes)))
        self.main = nn.Sequential(OrderedDict(layers))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.main(x)
        return out[:, 0], out[:, 1:]


@register_gan("acgan32")
def acgan32(z_dim: int | None = None, n_classes: int = 0) -> GanPair:
    """Seed 001 Tables 7–8 AC-GAN; ``n_classes=0`` means the default 10 (CIFAR-10)."""
    z_dim = 100 if z_dim is None else z_dim
    n_classes = 10 if not n_classes else n_classes
    g = ACGANGenerator32(z_dim, n_classes)
    d = ACGANDiscriminator32(n_classes)
    dcgan_init_(g.modules())
    dcgan_init_(d.modules())
    return GanPair(g, d, z_dim, 32, n_classes, "acgan32")
