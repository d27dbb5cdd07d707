"""Losses against closed forms, the α → 1 limit, α = ∞, and finite gradients at the clamps."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gansweep.losses import EPS, LOSSES, alpha_loss
from gansweep.penalties import gradient_penalty

LOGITS = torch.linspace(-6, 6, 25, dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("float64_default")  # conftest: closed forms in float64


def closed_form(p, alpha):
    if alpha == 1:
        return -torch.log(p)
    if math.isinf(alpha):
        return 1 - p
    return alpha / (alpha - 1) * (1 - p ** ((alpha - 1) / alpha))


@pytest.mark.parametrize("alpha", [0.2, 0.3, 0.5, 0.9, 1.0, 1.1, 2.0, 10.0, math.inf])
@pytest.mark.parametrize("label", [0, 1])
def test_alpha_loss_matches_definition(alpha, label):
    p = torch.sigmoid(LOGITS)
    p_y = p if label == 1 else 1 - p
    torch.testing.assert_close(alpha_loss(LOGITS, label, alpha), closed_form(p_y, alpha))


def test_alpha_loss_special_values():
    p = torch.sigmoid(LOGITS)
    torch.testing.assert_close(alpha_loss(LOGITS, 1, 0.5), 1 / p - 1)  # α = 1/2
    torch.testing.assert_close(alpha_loss(LOGITS, 1, 2.0), 2 * (1 - p.sqrt()))
    torch.testing.assert_close(alpha_loss(LOGITS, 0, math.inf), p)  # 1 − p_0 = p


@pytest.mark.parametrize("delta", [1e-3, 1e-6, 1e-9, -1e-6])
def test_alpha_one_is_the_continuous_limit(delta):
    bce = alpha_loss(LOGITS, 1, 1.0)
    near = alpha_loss(LOGITS, 1, 1.0 + delta)
    assert torch.allclose(near, bce, rtol=0, atol=10 * abs(delta) * float(bce.max() ** 2 + 1))


def test_alpha_one_is_binary_cross_entropy():
    real, fake = torch.randn(2, 50)
    d = LOSSES["saturating"].d_loss(real, fake, 1.0)
    expected = F.binary_cross_entropy_with_logits(
        real, torch.ones(50)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros(50))
    torch.testing.assert_close(d, expected)
    g_ns = LOSSES["non_saturating"].g_loss(fake, 1.0)
    torch.testing.assert_close(g_ns, -F.logsigmoid(fake).mean())
    g_sat = LOSSES["saturating"].g_loss(fake, 1.0)
    torch.testing.assert_close(g_sat, torch.log1p(-torch.sigmoid(fake)).mean())


BCE_LOGITS = [-30.0, -20.0, -17.0, -10.0, 10.0, 17.0, 20.0, 30.0]


def authors_bce(x, label):
    """The authors' α = 1 path: Sigmoid, then nn.BCELoss (log clamped at −100), elementwise."""
    return nn.BCELoss(reduction="none")(torch.sigmoid(x), torch.full_like(x, float(label)))


def bce_reference(label):
    """Value and d/dlogit of BCE per logit: the closed form in Python floats, checked against
    the authors' nn.BCELoss(sigmoid(x)) in float64.

    That agrees to 1e-6 relative for |x| <= 20 (1 − σ(20) keeps only ~8 digits). At |x| = 30
    its value is off by up to ~1 % relative (σ rounds), and its backward floors p(1 − p) at 1e-12, scaling the
    gradient by ~0.09: there BCELoss is only checked in value, to its rounding."""
    softplus = [max(v, 0.0) + math.log1p(math.exp(-abs(v))) for v in BCE_LOGITS]
    value = torch.tensor([sp - v if label == 1 else sp for sp, v in zip(softplus, BCE_LOGITS)])
    # σ(x) − y, written so that no 1 − σ cancels: −σ(−x) for y = 1, σ(x) for y = 0.
    grad = torch.tensor(
        [-1 / (1 + math.exp(v)) if label == 1 else 1 / (1 + math.exp(-v)) for v in BCE_LOGITS]
    )
    x = torch.tensor(BCE_LOGITS, dtype=torch.float64, requires_grad=True)
    theirs = authors_bce(x, label)
    (their_grad,) = torch.autograd.grad(theirs.sum(), x)
    near = x.detach().abs() <= 20
    torch.testing.assert_close(theirs[near].detach(), value[near], rtol=1e-6, atol=0)
    torch.testing.assert_close(their_grad[near], grad[near], rtol=1e-6, atol=0)
    torch.testing.assert_close(theirs[~near].detach(), value[~near], rtol=2e-2, atol=0)
    return value, grad


def objectives_at_alpha_one(x_real, x_fake, alpha):
    """The three α = 1 objectives of the (αD, αG) family, as batch means over the last axis."""
    return {
        "d": LOSSES["saturating"].d_loss(x_real, x_fake, alpha),
        "g_saturating": LOSSES["saturating"].g_loss(x_fake, alpha),
        "g_non_saturating": LOSSES["non_saturating"].g_loss(x_fake, alpha),
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("per_run", [False, True], ids=["scalar_alpha", "per_run_alpha"])
def test_alpha_one_matches_sigmoid_then_bce_loss_in_value_and_gradient(dtype, per_run):
    n = len(BCE_LOGITS)
    (v1, g1), (v0, g0) = bce_reference(1), bce_reference(0)
    expected = {  # value, d/d real logits, d/d fake logits (batch means: gradients / n)
        "d": (v1.mean() + v0.mean(), g1 / n, g0 / n),
        "g_saturating": (-v0.mean(), None, -g0 / n),
        "g_non_saturating": (v1.mean(), None, g1 / n),
    }
    base = torch.tensor(BCE_LOGITS, dtype=dtype)
    # Per-run α: run 0 has α = 1, run 1 has α = 0.5 (the clamped α-loss) in the same stack.
    rows = 2 if per_run else 1
    alpha = torch.tensor([1.0, 0.5], dtype=dtype) if per_run else 1.0
    tol = {"rtol": 1e-11 if dtype == torch.float64 else 2e-6, "atol": 0.0}
    for name, (value, d_real, d_fake) in expected.items():
        real = base.expand(rows, n).clone().requires_grad_(True)
        fake = base.expand(rows, n).clone().requires_grad_(True)
        loss = objectives_at_alpha_one(real, fake, alpha)[name]
        grad_real, grad_fake = torch.autograd.grad(loss.sum(), (real, fake), allow_unused=True)
        assert loss.dtype == dtype
        torch.testing.assert_close(
            loss[0].double(), value, **tol, msg=lambda m, name=name: f"{name}: {m}"
        )
        torch.testing.assert_close(
            grad_fake[0].double(), d_fake, **tol, msg=lambda m, name=name: f"{name}: {m}"
        )
        if d_real is not None:
            torch.testing.assert_close(
                grad_real[0].double(), d_real, **tol, msg=lambda m, name=name: f"{name}: {m}"
            )
        if per_run:  # the α = 0.5 run is untouched by its α = 1 neighbour
            alone = objectives_at_alpha_one(base[None], base[None], 0.5)[name]
            torch.testing.assert_close(loss[1:], alone)


def test_alpha_one_keeps_the_vanishing_gradient_the_authors_code_has():
    # Saturating G at D(G(z)) logit −20 in fp32: the authors' Sigmoid + BCELoss gives ≈ −p
    # (−2.06e-9); the old clamped α-loss gave exactly 0. α ≠ 1 keeps the authors' clamp.
    x = torch.tensor([-20.0, -17.0], dtype=torch.float32, requires_grad=True)
    (ours,) = torch.autograd.grad(LOSSES["saturating"].g_loss(x, 1.0), x)
    (theirs,) = torch.autograd.grad(-authors_bce(x, 0).mean(), x)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)
    assert -2.1e-9 < float(ours[0]) * 2 < -2.0e-9
    (clamped,) = torch.autograd.grad(LOSSES["saturating"].g_loss(x, 1.0 + 1e-6), x)
    assert float(clamped[0]) == 0.0


def test_generator_objectives_follow_the_paper():
    fake = torch.randn(40)
    p = torch.sigmoid(fake)
    a = 1.3
    sat = LOSSES["saturating"].g_loss(fake, a)  # −ℓ_αG(0, D(G(z)))
    ns = LOSSES["non_saturating"].g_loss(fake, a)  # ℓ_αG(1, D(G(z)))
    torch.testing.assert_close(sat, -closed_form(1 - p, a).mean())
    torch.testing.assert_close(ns, closed_form(p, a).mean())


def test_other_objectives_closed_forms():
    real, fake = torch.randn(2, 30)
    ls = LOSSES["lsgan"]
    torch.testing.assert_close(
        ls.d_loss(real, fake, None), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    )
    torch.testing.assert_close(ls.g_loss(fake, None), 0.5 * ((fake - 1) ** 2).mean())
    torch.testing.assert_close(LOSSES["wgan"].d_loss(real, fake, None), fake.mean() - real.mean())
    torch.testing.assert_close(LOSSES["wgan"].g_loss(fake, None), -fake.mean())
    hinge = LOSSES["hinge"].d_loss(real, fake, None)
    torch.testing.assert_close(
        hinge, torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    )
    assert LOSSES["wgan"].regularisers == ("weight_clip",)
    assert LOSSES["wgan_gp"].regularisers == ("wgan_gp",)
    assert not LOSSES["hinge"].uses_alpha and LOSSES["saturating"].uses_alpha


def test_per_seed_alpha_tensor_equals_scalar_alpha():
    alphas = [0.3, 1.0, 1.2, math.inf]
    logits = torch.randn(len(alphas), 16)
    stacked = alpha_loss(logits, 0, torch.tensor(alphas))
    for i, a in enumerate(alphas):
        torch.testing.assert_close(stacked[i], alpha_loss(logits[i], 0, a))
    per_seed = LOSSES["saturating"].d_loss(logits, logits.flip(-1), torch.tensor(alphas))
    assert per_seed.shape == (len(alphas),)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 1.0, 1.5, math.inf])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_are_finite_at_and_beyond_the_clamps(alpha, dtype):
    p_edges = torch.tensor([EPS, 1 - EPS], dtype=torch.float64)
    edge_logits = torch.log(p_edges / (1 - p_edges))
    logits = torch.cat([torch.tensor([-1e4, -50.0, -17.0, 0.0, 17.0, 50.0, 1e4]), edge_logits])
    for alpha_arg in (alpha, torch.full((1,), alpha, dtype=dtype)):
        x = logits.to(dtype).unsqueeze(0).clone().requires_grad_(True)
        for label in (0, 1):
            loss = alpha_loss(x, label, alpha_arg)
            assert torch.isfinite(loss).all()
            (grad,) = torch.autograd.grad(loss.sum(), x)
            assert torch.isfinite(grad).all(), (alpha, label, grad)


def test_loss_is_bounded_by_the_clamp_for_small_alpha():
    # ℓ_0.2(1, ε) = (ε^(−4) − 1)/4: large but finite, as the protocol notes say.
    value = alpha_loss(torch.tensor([-1e3]), 1, 0.2)
    torch.testing.assert_close(value, torch.tensor([(EPS**-4 - 1) / 4]), rtol=1e-6, atol=0)


def test_gradient_penalty_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ‖∇‖ = 5 everywhere → penalty (5 − 1)² = 16
    real, fake = torch.randn(2, 3, 7, 2)
    mix = torch.rand(3, 7, 1)
    penalty = gradient_penalty(lambda x: x @ w, real, fake, mix, feature_dims=1)
    torch.testing.assert_close(penalty, torch.full((3,), 16.0))
    images = torch.randn(2, 4, 3, 5, 5)
    conv_w = torch.randn(3, 5, 5)
    norm = conv_w.norm()
    penalty = gradient_penalty(
        lambda x: (x * conv_w).sum((1, 2, 3)),
        images[0],
        images[1],
        torch.rand(4, 1, 1, 1),
        feature_dims=3,
    )
    torch.testing.assert_close(penalty, (norm - 1) ** 2)


def reference_penalty(critic_one, real, fake, mix):
    """(‖∇D(x̂)‖ − 1)² averaged over samples, one sample at a time (no batching, no flattening
    guesswork): ``critic_one(run, x)`` scores a single sample x of run ``run``."""
    runs = []
    for s in range(real.shape[0]):
        terms = []
        for b in range(real.shape[1]):
            x_hat = mix[s, b] * real[s, b] + (1 - mix[s, b]) * fake[s, b]
            grad = torch.autograd.functional.jacobian(lambda x, s=s: critic_one(s, x), x_hat)
            terms.append((grad.norm() - 1.0) ** 2)
        runs.append(torch.stack(terms).mean())
    return torch.stack(runs)


@pytest.mark.parametrize("batch", [1, 128])
@pytest.mark.parametrize("runs", [1, 3])
def test_gradient_penalty_of_stacked_points_matches_a_per_sample_reference(runs, batch):
    # A nonlinear critic per run, so that every sample has its own gradient norm.
    gen = torch.Generator().manual_seed(runs * 1000 + batch)
    w1, w2 = torch.randn(runs, 2, 16, generator=gen), torch.randn(runs, 16, 1, generator=gen)
    real, fake = torch.randn(2, runs, batch, 2, generator=gen)
    mix = torch.rand(runs, batch, 1, generator=gen)
    penalty = gradient_penalty(
        lambda x: (torch.tanh(x @ w1) @ w2).squeeze(-1), real, fake, mix, feature_dims=1
    )
    expected = reference_penalty(
        lambda s, x: (torch.tanh(x @ w1[s]) @ w2[s]).squeeze(-1), real, fake, mix
    )
    assert penalty.shape == (runs,)
    torch.testing.assert_close(penalty, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("batch", [1, 4])
def test_gradient_penalty_of_images_matches_a_per_sample_reference(batch):
    gen = torch.Generator().manual_seed(batch)
    kernel = torch.randn(1, 3, 3, 3, generator=gen)

    def critic(x):  # [B, 3, 5, 5] → [B]
        return torch.tanh(F.conv2d(x, kernel)).pow(2).sum((1, 2, 3))

    real, fake = torch.randn(2, batch, 3, 5, 5, generator=gen)
    mix = torch.rand(batch, 1, 1, 1, generator=gen)
    penalty = gradient_penalty(critic, real, fake, mix, feature_dims=3)
    expected = reference_penalty(
        lambda _s, x: critic(x[None])[0], real[None], fake[None], mix[None]
    )[0]
    assert penalty.shape == ()
    torch.testing.assert_close(penalty, expected, rtol=1e-12, atol=0)


def test_gradient_penalty_rejects_a_feature_count_that_leaves_no_batch_axis():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="feature_dims must be in"):
        gradient_penalty(lambda v: v.sum(-1), x, x, torch.rand(4, 1), feature_dims=2)


def test_registry_rejects_unknown_names_with_the_known_ones():
    with pytest.raises(
        KeyError, match=r"unknown loss 'minimax'; known: .*hinge, lsgan, non_saturating"
    ):
        LOSSES["minimax"]
