"""Regularisers of the discriminator: one registry, and the hooks both trainers call.

A penalty has two hooks, and either may do nothing:

* ``d_term(batch, train)``: a term added to D's loss, shape ``[*lead]`` (one value per stacked
  run on the ring, a scalar for images); ``batch`` (a :class:`CriticBatch`) gives D and its
  inputs. R1, R2 and WGAN-GP are such terms.
* ``after_d_step(D, train)``: a constraint applied to D after its optimiser step (weight
  clipping). It must act elementwise or per run, since the ring's D holds every run's weights
  stacked along a leading axis.

``train`` is the job's ``train`` settings; each built-in penalty reads its weight there
(``gp_weight``, ``weight_clip``, ``r1_gamma``, ``r2_gamma``). A job's active penalties are
those its objective names in ``Objective.regularisers`` plus those its settings switch on
(``switched_on``: R1 and R2, for any objective). :func:`for_job` binds them to the settings.
A plugin registers a new penalty here and names it in its objective; the trainers need no
change (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from gansweep.losses import Objective
from gansweep.registry import Registry


@dataclass(frozen=True)
class CriticBatch:
    """What a penalty may use in one D step.

    ``critic(x)`` is D's raw output for inputs shaped like ``real`` (``[*lead, batch]``);
    ``real`` and ``fake`` are that step's batches, detached; the trailing ``feature_dims`` axes
    of a sample are its features (1 for stacked 2D points [runs, batch, 2], 3 for images
    [batch, C, H, W]). ``uniform()`` draws one U(0, 1) weight per sample, shaped to broadcast
    over its features, from the stream the trainer keeps for penalties (per run on the ring);
    it is drawn only when a penalty asks, so objectives without one consume no random numbers.
    """

    critic: Callable[[Tensor], Tensor]
    real: Tensor
    fake: Tensor
    feature_dims: int
    uniform: Callable[[], Tensor]


class Penalty(Protocol):
    name: str
    description: str
    # Costs another pass of D with a double backward (the workflow's job-cost estimate).
    extra_critic_pass: bool

    def switched_on(self, train: Mapping) -> bool:
        """Whether the settings turn this penalty on for every objective."""
        ...

    def d_term(self, batch: CriticBatch, train: Mapping) -> Tensor | None: ...

    def after_d_step(self, D: nn.Module, train: Mapping) -> None: ...


class BasePenalty:
    """Defaults for every hook: not switched on by settings, no D term, no constraint."""

    name = ""
    description = ""
    extra_critic_pass = False

    def switched_on(self, train: Mapping) -> bool:
        return False

    def d_term(self, batch: CriticBatch, train: Mapping) -> Tensor | None:
        return None

    def after_d_step(self, D: nn.Module, train: Mapping) -> None:
        return None


PENALTIES: Registry[Penalty] = Registry("penalty")


def register(penalty: Penalty) -> Penalty:
    return PENALTIES.register(penalty.name)(penalty)


# ---- the closed forms -------------------------------------------------------------------------
def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, mix: Tensor, feature_dims: int
) -> Tensor:
    """WGAN-GP penalty E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on per-sample interpolates x̂ = m·x + (1−m)·G(z).

    ``mix`` holds one U(0, 1) weight per sample, shaped to broadcast over the sample's
    features (e.g. [S, B, 1] for stacked 2D points, [B, 1, 1, 1] for images). The gradient is
    flattened over the trailing ``feature_dims`` axes (1 for points, 3 for images) before the
    norm; the caller says how many, since a size-1 run or batch axis looks like a feature axis.
    Returns the mean over the last batch axis.
    """
    if not 1 <= feature_dims < real.dim():
        raise ValueError(
            f"feature_dims must be in [1, {real.dim() - 1}] for inputs of shape "
            f"{tuple(real.shape)}, got {feature_dims}"
        )
    mixed = (mix * real.detach() + (1 - mix) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = grad.flatten(grad.dim() - feature_dims).norm(dim=-1)
    return ((norms - 1.0) ** 2).mean(-1)


# Zero-centred gradient penalties R1 / R2 (Mescheder et al. 2018, arXiv 1801.04406).
def squared_input_gradient(
    critic: Callable[[Tensor], Tensor], x: Tensor, feature_dims: int
) -> Tensor:
    """E_x[‖∇_x C(x)‖²] per leading index: the mean over the last batch axis of the squared
    gradient norm, flattened over the trailing ``feature_dims`` axes (1 for stacked 2D points
    [S, B, 2], 3 for images [B, C, H, W]). Differentiable (create_graph) so D can descend it.

    Summing C over the batch gives each sample's own gradient as long as C treats samples
    independently (true for MLPs and for D's without batch statistics)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.pow(2).flatten(x.dim() - feature_dims).sum(-1).mean(-1)


def zero_centred_penalties(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    r1_gamma: float,
    r2_gamma: float,
    feature_dims: int,
) -> Tensor | float:
    """γ₁/2 · E_real[‖∇C‖²] (R1) + γ₂/2 · E_fake[‖∇C‖²] (R2), added to any objective's D loss;
    R3GAN (Huang et al. 2024, arXiv 2501.05441) is RpGAN with both. A zero γ skips its term."""
    total: Tensor | float = 0.0
    if r1_gamma:
        total = total + 0.5 * r1_gamma * squared_input_gradient(critic, real, feature_dims)
    if r2_gamma:
        total = total + 0.5 * r2_gamma * squared_input_gradient(critic, fake, feature_dims)
    return total


# ---- the registered penalties -----------------------------------------------------------------
class WeightClip(BasePenalty):
    name = "weight_clip"
    description = (
        "WGAN's Lipschitz constraint: every D weight clipped to ±weight_clip after each D step"
    )

    def after_d_step(self, D: nn.Module, train: Mapping) -> None:
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-train["weight_clip"], train["weight_clip"])


class WganGradientPenalty(BasePenalty):
    name = "wgan_gp"
    description = "WGAN-GP: gp_weight · E[(‖∇D(x̂)‖ − 1)²] on random real/fake interpolates"
    extra_critic_pass = True

    def d_term(self, batch: CriticBatch, train: Mapping) -> Tensor:
        mix = batch.uniform()
        return train["gp_weight"] * gradient_penalty(
            batch.critic, batch.real, batch.fake, mix, batch.feature_dims
        )


class ZeroCentred(BasePenalty):
    """γ/2 · E[‖∇D‖²] on one side's samples, γ = train[gamma_key]; on when γ > 0."""

    extra_critic_pass = True

    def __init__(self, name: str, description: str, gamma_key: str, on_real: bool):
        self.name, self.description = name, description
        self.gamma_key, self.on_real = gamma_key, on_real

    def switched_on(self, train: Mapping) -> bool:
        # The schema's default (0) is not filled in through its $ref: absent means off.
        return bool(train.get(self.gamma_key, 0.0))

    def d_term(self, batch: CriticBatch, train: Mapping) -> Tensor:
        x = batch.real if self.on_real else batch.fake
        return (
            0.5
            * train[self.gamma_key]
            * squared_input_gradient(batch.critic, x, batch.feature_dims)
        )


register(WeightClip())
register(WganGradientPenalty())
register(
    ZeroCentred(
        "r1", "R1 = r1_gamma/2 · E_real[‖∇D‖²] (Mescheder et al. 2018)", "r1_gamma", on_real=True
    )
)
register(ZeroCentred("r2", "R2 = r2_gamma/2 · E_fake[‖∇D‖²]", "r2_gamma", on_real=False))


# ---- a job's penalties --------------------------------------------------------------------------
@dataclass(frozen=True)
class Regularisers:
    """The penalties of one job, bound to its ``train`` settings; what the trainers call.

    ``own`` are the objective's (part of its loss: WGAN-GP's penalty, WGAN's clipping),
    ``switched`` those the settings add to any objective (R1, R2), in registration order.
    """

    own: tuple[Penalty, ...]
    switched: tuple[Penalty, ...]
    train: Mapping

    @property
    def all(self) -> tuple[Penalty, ...]:
        return self.own + self.switched

    def d_loss(self, loss: Tensor, batch: CriticBatch) -> Tensor:
        """``loss`` plus every D term. The objective's own terms are added one by one, then
        the switched-on ones as one sum: the grouping the trainers always used, kept so that
        every output stays bitwise what it was."""
        for penalty in self.own:
            term = penalty.d_term(batch, self.train)
            if term is not None:
                loss = loss + term
        extra: Tensor | float = 0.0
        for penalty in self.switched:
            term = penalty.d_term(batch, self.train)
            if term is not None:
                extra = extra + term
        return loss + extra if isinstance(extra, Tensor) else loss

    def after_d_step(self, D: nn.Module) -> None:
        for penalty in self.all:
            penalty.after_d_step(D, self.train)


def for_job(objective: Objective, train: Mapping) -> Regularisers:
    """The penalties a job with this objective and these settings runs. An unknown name in the
    objective's ``regularisers`` fails with the objective and the registered penalties."""
    own = []
    for name in objective.regularisers:
        if name not in PENALTIES:
            raise KeyError(
                f"objective {objective.name!r} names the penalty {name!r}, which is not "
                f"registered; registered penalties: {', '.join(PENALTIES.names())}"
            )
        own.append(PENALTIES[name])
    switched = [
        PENALTIES[name]
        for name in PENALTIES.in_order()
        if name not in objective.regularisers and PENALTIES[name].switched_on(train)
    ]
    return Regularisers(tuple(own), tuple(switched), train)
