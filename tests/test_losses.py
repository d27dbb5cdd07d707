"""Losses against closed forms, the α → 1 limit, α = ∞, and finite gradients at the clamps."""

import math

import pytest
import torch
import torch.nn.functional as F

from gansweep.losses import EPS, LOSSES, alpha_loss, gradient_penalty

LOGITS = torch.linspace(-6, 6, 25, dtype=torch.float64)


@pytest.fixture(autouse=True)
def float64_default():
    """Closed-form comparisons in float64, without leaking the setting into other modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


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
    expected = F.binary_cross_entropy_with_logits(real, torch.ones(50)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros(50)
    )
    torch.testing.assert_close(d, expected)
    g_ns = LOSSES["non_saturating"].g_loss(fake, 1.0)
    torch.testing.assert_close(g_ns, -F.logsigmoid(fake).mean())
    g_sat = LOSSES["saturating"].g_loss(fake, 1.0)
    torch.testing.assert_close(g_sat, torch.log1p(-torch.sigmoid(fake)).mean())


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
    torch.testing.assert_close(ls.d_loss(real, fake, None), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean())
    torch.testing.assert_close(ls.g_loss(fake, None), 0.5 * ((fake - 1) ** 2).mean())
    torch.testing.assert_close(LOSSES["wgan"].d_loss(real, fake, None), fake.mean() - real.mean())
    torch.testing.assert_close(LOSSES["wgan"].g_loss(fake, None), -fake.mean())
    hinge = LOSSES["hinge"].d_loss(real, fake, None)
    torch.testing.assert_close(hinge, torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean())
    assert LOSSES["wgan"].critic and LOSSES["wgan_gp"].gradient_penalty
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
    penalty = gradient_penalty(lambda x: x @ w, real, fake, mix)
    torch.testing.assert_close(penalty, torch.full((3,), 16.0))
    images = torch.randn(2, 4, 3, 5, 5)
    conv_w = torch.randn(3, 5, 5)
    norm = conv_w.norm()
    penalty = gradient_penalty(lambda x: (x * conv_w).sum((1, 2, 3)), images[0], images[1], torch.rand(4, 1, 1, 1))
    torch.testing.assert_close(penalty, (norm - 1) ** 2)


def test_registry_rejects_unknown_names_with_the_known_ones():
    with pytest.raises(KeyError, match="known: hinge, lsgan"):
        LOSSES["minimax"]
