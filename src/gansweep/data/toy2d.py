"""2D Gaussian mixtures of the (αD, αG)-GAN papers: the ring of 8 and the grid of 25."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gansweep.registry import Registry


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight isotropic Gaussians with a common standard deviation."""

    name: str
    means: Tensor  # [K, 2]
    std: float

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        modes = torch.randint(self.n_modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self.means[modes] + self.std * noise


DATASETS: Registry = Registry("dataset")


@DATASETS.register("ring")
def ring() -> GaussianMixture:
    """8 modes at (cos 2πi/8, sin 2πi/8), std 0.01 (variance 1e-4)."""
    angles = torch.arange(1, 9, dtype=torch.float64) * (2 * math.pi / 8)
    return GaussianMixture("ring", torch.stack([angles.cos(), angles.sin()], dim=1), 0.01)


@DATASETS.register("grid")
def grid() -> GaussianMixture:
    """25 modes at (−4 + 2i, −4 + 2j), i, j = 0..4, std 0.05 (variance 0.0025)."""
    ticks = torch.arange(5, dtype=torch.float64) * 2 - 4
    means = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture("grid", means, 0.05)


@dataclass(frozen=True)
class ToyData:
    """Real samples and latent sets, drawn once from the data seed and shared by all seeds."""

    mixture: GaussianMixture
    train_real: Tensor  # [n_train, 2]
    train_noise: Tensor  # [n_train, latent_dim]
    test_noise: Tensor  # [n_test, latent_dim]


def make_toy_data(
    dataset: str, n_train: int, n_test: int, data_seed: int, latent_dim: int = 2
) -> ToyData:
    """The paper's fixed sets: n_train real points and as many N(0, I) latents for
    training, n_test latents for evaluation (G(test latents) is what metrics measure)."""
    mixture = DATASETS[dataset]()
    gen = torch.Generator().manual_seed(data_seed)
    train_real = mixture.sample(n_train, gen)
    train_noise = torch.randn(n_train, latent_dim, generator=gen, dtype=torch.float64)
    test_noise = torch.randn(n_test, latent_dim, generator=gen, dtype=torch.float64)
    return ToyData(mixture, train_real, train_noise, test_noise)
