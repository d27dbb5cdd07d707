"""Adversarial objectives: one registry shared by the 2D-ring and image studies.

Every loss works on raw discriminator outputs (logits) of shape ``[*lead, batch]`` and
returns the batch mean, shape ``[*lead]``. A leading axis of stacked seeds therefore gets
one loss per seed, and summing them before ``backward`` gives each seed its own gradient.

α-loss (Sypherd et al.; the (αD, αG)-GAN papers, arXiv 2302.14320 / 2310.18291):

    ℓ_α(y, p) = α/(α−1) · (1 − p_y^{(α−1)/α}),   p = σ(logit) clamped to [ε, 1−ε].

With t = (α−1)/α this is (1 − p_y^t)/t = −expm1(t·log p_y)/t, which is numerically stable
for every α: t → 0 (α = 1) is the limit −log p_y (binary cross-entropy) and t = 1
(α = ∞) is 1 − p_y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import Tensor

from gansweep.registry import Registry

EPS = 1e-7  # the authors' probability clamp
Alpha = Union[float, Tensor]


def _alpha_exponent(alpha: Alpha) -> Alpha:
    """t = (α−1)/α = 1 − 1/α; 0 for α = 1 and 1 for α = ∞."""
    if isinstance(alpha, Tensor):
        return 1.0 - alpha.reciprocal()
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    return 1.0 - 1.0 / alpha if math.isfinite(alpha) else 1.0


def alpha_loss_of_prob(p_y: Tensor, alpha: Alpha) -> Tensor:
    """Elementwise ℓ_α as a function of the probability p_y given to the true label.

    A tensor ``alpha`` has one value per leading index of ``p_y`` (e.g. one per seed) and
    is broadcast over the trailing batch axis.
    """
    log_p = torch.log(p_y)
    t = _alpha_exponent(alpha)
    if not isinstance(t, Tensor):
        if t == 0.0:
            return -log_p
        return -torch.expm1(t * log_p) / t
    t = t.to(p_y.dtype).unsqueeze(-1)
    is_bce = t == 0
    # Substitute a harmless t where α = 1 so that neither branch produces inf/NaN
    # (a NaN in the unused branch of `where` would still poison the gradient).
    t_safe = torch.where(is_bce, torch.ones_like(t), t)
    return torch.where(is_bce, -log_p, -torch.expm1(t_safe * log_p) / t_safe)


def alpha_loss(logits: Tensor, label: int, alpha: Alpha, eps: float = EPS) -> Tensor:
    """Elementwise ℓ_α(label, σ(logits)), with σ clamped to [eps, 1 − eps]."""
    p = torch.sigmoid(logits).clamp(eps, 1.0 - eps)
    p_y = p if label == 1 else 1.0 - p
    return alpha_loss_of_prob(p_y, alpha)


@dataclass(frozen=True)
class Objective:
    """A GAN objective: what D minimises and what G minimises.

    ``d_loss(real_logits, fake_logits, alpha_d)`` and ``g_loss(fake_logits, alpha_g)``
    return batch means. ``uses_alpha`` says whether αD/αG mean anything; ``critic``
    marks Wasserstein critics (weight clipping or a gradient penalty applies).
    """

    name: str
    d_loss: Callable[[Tensor, Tensor, Alpha], Tensor]
    g_loss: Callable[[Tensor, Alpha], Tensor]
    uses_alpha: bool = False
    critic: bool = False
    gradient_penalty: bool = False
    description: str = ""


LOSSES: Registry[Objective] = Registry("loss")


def _alpha_d_loss(real: Tensor, fake: Tensor, alpha_d: Alpha) -> Tensor:
    return alpha_loss(real, 1, alpha_d).mean(-1) + alpha_loss(fake, 0, alpha_d).mean(-1)


def _register(obj: Objective) -> Objective:
    return LOSSES.register(obj.name)(obj)


_register(
    Objective(
        name="saturating",
        d_loss=_alpha_d_loss,
        # G maximises D's loss on fakes: minimise −ℓ_αG(0, D(G(z))).
        g_loss=lambda fake, alpha_g: -alpha_loss(fake, 0, alpha_g).mean(-1),
        uses_alpha=True,
        description="(αD, αG)-GAN, saturating G; αD = αG = 1 is the minimax BCE GAN",
    )
)
_register(
    Objective(
        name="non_saturating",
        d_loss=_alpha_d_loss,
        # G makes D call fakes real: minimise ℓ_αG(1, D(G(z))).
        g_loss=lambda fake, alpha_g: alpha_loss(fake, 1, alpha_g).mean(-1),
        uses_alpha=True,
        description="(αD, αG)-GAN, non-saturating G; αD = αG = 1 is the NS BCE GAN",
    )
)
_register(
    Objective(
        name="lsgan",
        # 0-1 binary coding (a = 0, b = c = 1) on the raw output, as in the paper.
        d_loss=lambda real, fake, _a: 0.5 * ((real - 1.0) ** 2).mean(-1)
        + 0.5 * (fake**2).mean(-1),
        g_loss=lambda fake, _a: 0.5 * ((fake - 1.0) ** 2).mean(-1),
        description="least-squares GAN with 0-1 coding",
    )
)
_register(
    Objective(
        name="wgan",
        d_loss=lambda real, fake, _a: fake.mean(-1) - real.mean(-1),
        g_loss=lambda fake, _a: -fake.mean(-1),
        critic=True,
        description="Wasserstein GAN; the critic is kept Lipschitz by weight clipping",
    )
)
_register(
    Objective(
        name="wgan_gp",
        d_loss=lambda real, fake, _a: fake.mean(-1) - real.mean(-1),
        g_loss=lambda fake, _a: -fake.mean(-1),
        critic=True,
        gradient_penalty=True,
        description="Wasserstein GAN with gradient penalty λ·(‖∇D(x̂)‖ − 1)²",
    )
)
_register(
    Objective(
        name="hinge",
        d_loss=lambda real, fake, _a: torch.relu(1.0 - real).mean(-1)
        + torch.relu(1.0 + fake).mean(-1),
        g_loss=lambda fake, _a: -fake.mean(-1),
        description="hinge loss (SNGAN)",
    )
)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, mix: Tensor
) -> Tensor:
    """WGAN-GP penalty E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on per-sample interpolates x̂ = m·x + (1−m)·G(z).

    ``mix`` holds one U(0, 1) weight per sample, shaped to broadcast over the sample's
    features (e.g. [S, B, 1] for stacked 2D points, [B, 1, 1, 1] for images); the gradient is
    flattened over those feature axes before the norm. Returns the mean over the last batch
    axis.
    """
    batch_dims = mix.dim() - sum(1 for n in mix.shape[::-1] if n == 1)
    mixed = (mix * real.detach() + (1 - mix) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = grad.flatten(batch_dims).norm(dim=-1)
    return ((norms - 1.0) ** 2).mean(-1)
