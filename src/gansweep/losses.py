"""Adversarial objectives: one registry shared by the 2D-ring and image studies.

Every loss works on raw discriminator outputs (logits) of shape ``[*lead, batch]`` and
returns the batch mean, shape ``[*lead]``. A leading axis of stacked seeds therefore gets
one loss per seed, and summing them before ``backward`` gives each seed its own gradient.

α-loss (Sypherd et al.; the (αD, αG)-GAN papers, arXiv 2302.14320 / 2310.18291):

    ℓ_α(y, p) = α/(α−1) · (1 − p_y^{(α−1)/α}),   p = σ(logit) clamped to [ε, 1−ε].

With t = (α−1)/α this is (1 − p_y^t)/t = −expm1(t·log p_y)/t, which is numerically stable
for every α: t → 0 (α = 1) is the limit −log p_y (binary cross-entropy) and t = 1
(α = ∞) is 1 − p_y.

Clamps follow the authors' code. For α ≠ 1 their α-loss clamps p to [ε, 1−ε], so its gradient
is 0 once |logit| > ~16. For α = 1 they use Sigmoid + ``nn.BCELoss``, which has no ε clamp:
its gradient keeps its tiny exact value (e.g. 2.06e-9 at logit −20), which Adam turns into a
real step. α = 1 is therefore computed as BCE from the logit, −log σ(±logit), which equals
``nn.BCELoss(sigmoid(logit))`` wherever that is representable and stays exact beyond.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gansweep.registry import Registry

EPS = 1e-7  # the authors' probability clamp
Alpha = float | Tensor


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


def bce_from_logits(logits: Tensor, label: int) -> Tensor:
    """Elementwise −log σ(±logits): binary cross-entropy without any probability clamp."""
    return -F.logsigmoid(logits if label == 1 else -logits)


def alpha_loss(logits: Tensor, label: int, alpha: Alpha, eps: float = EPS) -> Tensor:
    """Elementwise ℓ_α(label, σ(logits)): exact BCE from the logit where α = 1, otherwise
    the α-loss with σ clamped to [eps, 1 − eps] (see the module notes)."""
    t = _alpha_exponent(alpha)
    if not isinstance(t, Tensor) and t == 0.0:
        return bce_from_logits(logits, label)
    p = torch.sigmoid(logits).clamp(eps, 1.0 - eps)
    p_y = p if label == 1 else 1.0 - p
    clamped = alpha_loss_of_prob(p_y, alpha)
    if not isinstance(t, Tensor):
        return clamped
    # A per-run α: the α = 1 runs take the BCE path. Both branches are finite everywhere,
    # so the unused one cannot poison the gradient through `where`.
    is_bce = (t == 0).to(logits.device).unsqueeze(-1)
    return torch.where(is_bce, bce_from_logits(logits, label), clamped)


@dataclass(frozen=True)
class Objective:
    """A GAN objective: what D minimises, what G minimises, and D's regularisers.

    ``d_loss(real_logits, fake_logits, alpha_d)`` and ``g_loss(fake_logits, alpha_g)``
    return batch means. ``uses_alpha`` says whether αD/αG mean anything. A ``relativistic``
    objective's G loss also compares with real logits: ``g_loss(fake_logits, alpha_g,
    real_logits)``. ``regularisers`` names the penalties of gansweep.penalties that belong to
    the objective (WGAN's weight clipping, WGAN-GP's gradient penalty); the trainers apply
    them, and the R1 / R2 a config switches on, without knowing which objective they run.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor, Alpha], Tensor]
    g_loss: Callable[[Tensor, Alpha], Tensor]
    uses_alpha: bool = False
    description: str = ""
    relativistic: bool = False
    regularisers: tuple[str, ...] = ()

    def generator_loss(self, fake: Tensor, alpha_g: Alpha, real: Callable[[], Tensor]) -> Tensor:
        """G's loss on D's logits of its samples. ``real()`` returns the real logits, treated
        as constants; it is called only for a relativistic objective, so that the others
        cost no extra pass of D (nor change the state a pass updates, e.g. spectral norm's)."""
        if self.relativistic:
            return self.g_loss(fake, alpha_g, real())
        return self.g_loss(fake, alpha_g)


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
        d_loss=lambda real, fake, _a: 0.5 * ((real - 1.0) ** 2).mean(-1) + 0.5 * (fake**2).mean(-1),
        g_loss=lambda fake, _a: 0.5 * ((fake - 1.0) ** 2).mean(-1),
        description="least-squares GAN with 0-1 coding",
    )
)
_register(
    Objective(
        name="wgan",
        d_loss=lambda real, fake, _a: fake.mean(-1) - real.mean(-1),
        g_loss=lambda fake, _a: -fake.mean(-1),
        description="Wasserstein GAN; the critic is kept Lipschitz by weight clipping",
        regularisers=("weight_clip",),
    )
)
_register(
    Objective(
        name="wgan_gp",
        d_loss=lambda real, fake, _a: fake.mean(-1) - real.mean(-1),
        g_loss=lambda fake, _a: -fake.mean(-1),
        description="Wasserstein GAN with gradient penalty λ·(‖∇D(x̂)‖ − 1)²",
        regularisers=("wgan_gp",),
    )
)
_register(
    Objective(
        name="hinge",
        d_loss=lambda real, fake, _a: (
            torch.relu(1.0 - real).mean(-1) + torch.relu(1.0 + fake).mean(-1)
        ),
        g_loss=lambda fake, _a: -fake.mean(-1),
        description="hinge loss (SNGAN)",
    )
)


# ---- Relativistic objectives (Jolicoeur-Martineau, arXiv 1807.00734) --------------------------
# C is the raw critic output (the logit). A relativistic D judges whether real data look more
# real than fakes, so the G loss depends on the real logits too (``relativistic=True``).


def _rpgan_d_loss(real: Tensor, fake: Tensor, _alpha: Alpha) -> Tensor:
    # softplus(−(C(x_r) − C(x_f))) over the pairs (x_r[i], x_f[i]) of the batch.
    return F.softplus(fake - real).mean(-1)


def _rpgan_g_loss(fake: Tensor, _alpha: Alpha, real: Tensor) -> Tensor:
    return F.softplus(real - fake).mean(-1)


def _ragan_terms(first: Tensor, second: Tensor) -> Tensor:
    """−E[log σ(C(a) − E C(b))] − E[log(1 − σ(C(b) − E C(a)))] for a = first, b = second."""
    rel_first = first - second.mean(-1, keepdim=True)
    rel_second = second - first.mean(-1, keepdim=True)
    return F.softplus(-rel_first).mean(-1) + F.softplus(rel_second).mean(-1)


_register(
    Objective(
        name="rpgan",
        d_loss=_rpgan_d_loss,
        g_loss=_rpgan_g_loss,
        relativistic=True,
        description="relativistic pairing GAN (RSGAN; R3GAN's loss): "
        "D min softplus(C(x_f) − C(x_r)), G min softplus(C(x_r) − C(x_f))",
    )
)
_register(
    Objective(
        name="ragan",
        d_loss=lambda real, fake, _a: _ragan_terms(real, fake),
        # G swaps the roles: fakes should look more real than the average real.
        g_loss=lambda fake, _a, real: _ragan_terms(fake, real),
        relativistic=True,
        description="relativistic average GAN with the BCE link (RaSGAN)",
    )
)


# ---- f-GAN (Nowozin, Cseke, Tomioka 2016, arXiv 1606.00709) -----------------------------------
@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN paper's Table 2: D_f(P‖Q) = ∫ q f(p/q), the output activation
    T = g_f(V) that maps the raw D output V into the domain of the conjugate f*, and
    f*(t) = sup_u (u·t − f(u)). ``conjugate_of_activation`` is f*(g_f(v)) simplified so that
    it is finite wherever the composition is (the tests check it against f* ∘ g_f)."""

    name: str
    f: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]


LOG2 = math.log(2.0)
F_DIVERGENCES: dict[str, FDivergence] = {
    d.name: d
    for d in (
        FDivergence(
            "kl",
            f=lambda u: u * torch.log(u),
            activation=lambda v: v,
            conjugate=lambda t: torch.exp(t - 1.0),
            conjugate_of_activation=lambda v: torch.exp(v - 1.0),
        ),
        FDivergence(
            "reverse_kl",
            f=lambda u: -torch.log(u),
            activation=lambda v: -torch.exp(-v),
            conjugate=lambda t: -1.0 - torch.log(-t),
            conjugate_of_activation=lambda v: v - 1.0,  # −1 − log(e^{−v})
        ),
        FDivergence(
            "pearson",
            f=lambda u: (u - 1.0) ** 2,
            activation=lambda v: v,
            conjugate=lambda t: t**2 / 4.0 + t,
            conjugate_of_activation=lambda v: v**2 / 4.0 + v,
        ),
        FDivergence(
            "hellinger",  # squared Hellinger
            f=lambda u: (torch.sqrt(u) - 1.0) ** 2,
            activation=lambda v: -torch.expm1(-v),  # 1 − e^{−v}
            conjugate=lambda t: t / (1.0 - t),
            conjugate_of_activation=torch.expm1,  # (1 − e^{−v}) / e^{−v} = e^v − 1
        ),
        FDivergence(
            "js",
            f=lambda u: -(u + 1.0) * torch.log((1.0 + u) / 2.0) + u * torch.log(u),
            activation=lambda v: LOG2 - F.softplus(-v),  # log 2 − log(1 + e^{−v})
            conjugate=lambda t: -torch.log(2.0 - torch.exp(t)),
            conjugate_of_activation=lambda v: F.softplus(v) - LOG2,  # −log(2 σ(−v))
        ),
    )
}


F_DIVERGENCE_TITLES = {
    "kl": "Kullback–Leibler",
    "reverse_kl": "reverse Kullback–Leibler",
    "pearson": "Pearson χ²",
    "hellinger": "squared Hellinger",
    "js": "Jensen–Shannon",
}


def _fgan_objective(div: FDivergence) -> Objective:
    """D maximises the variational bound E_P[g_f(V(x))] − E_Q[f*(g_f(V(x)))] of D_f(P‖Q) (the
    paper's eq. 6), so it minimises the negative. G maximises E_Q[g_f(V(G(z)))], the paper's
    practical generator objective (§3, like the non-saturating GAN's −log D trick)."""

    def d_loss(real: Tensor, fake: Tensor, _alpha: Alpha) -> Tensor:
        return -div.activation(real).mean(-1) + div.conjugate_of_activation(fake).mean(-1)

    def g_loss(fake: Tensor, _alpha: Alpha) -> Tensor:
        return -div.activation(fake).mean(-1)

    return Objective(
        name=f"fgan_{div.name}",
        d_loss=d_loss,
        g_loss=g_loss,
        description=f"f-GAN, {F_DIVERGENCE_TITLES[div.name]} (Nowozin et al. 2016, Table 2)",
    )


for _div in F_DIVERGENCES.values():
    _register(_fgan_objective(_div))
