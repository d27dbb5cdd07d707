"""Shared pieces of the convolutional GAN architectures (DCGAN, SNGAN, AC-GAN).

Every image architecture is registered in ``MODELS`` as a factory

    MODELS[name](z_dim: int | None = None, n_classes: int = 0) -> GanPair

Conventions (all architectures):

* ``generator(z, y=None)``: z is [B, z_dim] (reshaped inside), y optional integer labels
  [B] (conditional architectures only); returns images [B, 3, R, R] in [−1, 1] (tanh).
* ``discriminator(x)``: raw outputs (logits / critic values) of shape [B], no sigmoid;
  AC-GAN returns ``(source_logits [B], class_logits [B, n_classes])``.
* ``discriminator.layers_for_grad_stats()``: ordered ``[(name, module), ...]`` of D's
  weight layers (conv / linear) in forward order. Under spectral norm the module's
  ``weight`` is computed, not a leaf: use :func:`layer_weight` to reach the trained
  parameter (and its ``.grad``).
* All randomness (init, spectral-norm vectors, dropout) comes from torch's global RNG, so
  ``torch.manual_seed`` before the factory call fixes every parameter and buffer. The
  factories build the generator first, then the discriminator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gansweep.models.mlp import MODELS

WEIGHT_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


@dataclass
class GanPair:
    """A generator/discriminator pair and the facts a training loop needs about it."""

    generator: nn.Module
    discriminator: nn.Module
    z_dim: int
    resolution: int
    n_classes: int  # 0 = unconditional
    name: str

    @property
    def conditional(self) -> bool:
        return self.n_classes > 0

    def sample_z(self, batch: int, device=None, dtype=None) -> Tensor:
        """Standard-normal latents [batch, z_dim] from the global RNG."""
        return torch.randn(batch, self.z_dim, device=device, dtype=dtype)

    def sample_labels(self, batch: int, device=None) -> Tensor | None:
        """Uniform class labels [batch] (global RNG), or None when unconditional."""
        if not self.conditional:
            return None
        return torch.randint(self.n_classes, (batch,), device=device)

    def to(self, *args, **kwargs) -> GanPair:
        """Move/convert both networks in place (``nn.Module.to`` arguments); returns self."""
        self.generator.to(*args, **kwargs)
        self.discriminator.to(*args, **kwargs)
        return self

    def parameter_counts(self) -> dict[str, int]:
        return {
            "generator": count_parameters(self.generator),
            "discriminator": count_parameters(self.discriminator),
        }


GanFactory = Callable[..., GanPair]


def register_gan(name: str) -> Callable[[GanFactory], GanFactory]:
    """Register a ``(z_dim=None, n_classes=0) -> GanPair`` factory in ``MODELS``."""
    return MODELS.register(name)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameter count (spectral-norm ``u``/``v`` are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def layer_weight(module: nn.Module) -> Tensor:
    """The leaf weight parameter of a conv/linear layer, also under a parametrization
    such as spectral norm (where ``module.weight`` is the normalised, computed tensor)."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def weight_layers(module: nn.Module, strip_prefix: str = "") -> list[tuple[str, nn.Module]]:
    """All conv / conv-transpose / linear submodules in registration order."""
    out = []
    for path, m in module.named_modules():
        if isinstance(m, WEIGHT_LAYERS):
            if strip_prefix and path.startswith(strip_prefix):
                path = path[len(strip_prefix) :]
            out.append((path, m))
    return out


class GradStatsMixin:
    """``layers_for_grad_stats()`` for networks whose submodules are registered in forward
    order: every conv / linear layer, named by its module path minus ``_grad_stats_prefix``
    (e.g. ``"main."`` so that the names read ``conv1``, ``conv2``, …)."""

    _grad_stats_prefix: str = ""

    def layers_for_grad_stats(self) -> list[tuple[str, nn.Module]]:
        return weight_layers(self, self._grad_stats_prefix)  # type: ignore[arg-type]


@torch.no_grad()
def dcgan_init_(modules: Iterable[nn.Module], std: float = 0.02) -> None:
    """DCGAN init (Radford et al.): conv / conv-transpose / linear weights N(0, std),
    biases 0; BatchNorm weight N(1, std), bias 0. Draws from the global RNG in module
    order."""
    for m in modules:
        if isinstance(m, WEIGHT_LAYERS):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def check_unconditional(name: str, n_classes: int) -> None:
    if n_classes:
        raise ValueError(f"{name} is unconditional; got n_classes={n_classes}")


def reject_labels(y: Tensor | None) -> None:
    if y is not None:
        raise ValueError("this generator is unconditional; it takes no labels y")
