"""The modern loss families: relativistic (RpGAN, RaGAN), f-GAN, and the R1 / R2 penalties.

Closed forms and independent references; the stacked ring trainer against a plain single-run
loop in float64 for every new loss; every new loss and the penalties on an image trainer.
"""

import dataclasses
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import single_job, tiny_study
from scipy.optimize import minimize_scalar
from torch import nn

from gansweep.losses import F_DIVERGENCES, LOSSES
from gansweep.models.mlp import StackedMLP
from gansweep.penalties import squared_input_gradient, zero_centred_penalties
from gansweep.training.ring import RingTrainer

NEW_LOSSES = ["rpgan", "ragan"] + [f"fgan_{name}" for name in F_DIVERGENCES]


pytestmark = pytest.mark.usefixtures("float64_default")  # conftest: closed forms in float64


def logits(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---- relativistic ---------------------------------------------------------------------------
def test_rpgan_is_softplus_of_the_paired_difference():
    real, fake = logits(2, 40)
    rp = LOSSES["rpgan"]
    assert rp.relativistic and not rp.uses_alpha and not rp.regularisers
    # −log σ(C(x_r) − C(x_f)) for D, −log σ(C(x_f) − C(x_r)) for G.
    torch.testing.assert_close(
        rp.d_loss(real, fake, None), -torch.log(torch.sigmoid(real - fake)).mean()
    )
    torch.testing.assert_close(
        rp.g_loss(fake, None, real), -torch.log(torch.sigmoid(fake - real)).mean()
    )
    # Equal logits: both players sit at log 2.
    torch.testing.assert_close(rp.d_loss(real, real, None), torch.tensor(math.log(2)))


def test_ragan_follows_the_paper():
    real, fake = logits(2, 33, seed=1)
    ra = LOSSES["ragan"]
    d_real = torch.sigmoid(real - fake.mean())  # D̃(x_r) = σ(C(x_r) − E C(x_f))
    d_fake = torch.sigmoid(fake - real.mean())
    d_expected = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    g_expected = -torch.log(d_fake).mean() - torch.log(1 - d_real).mean()
    torch.testing.assert_close(ra.d_loss(real, fake, None), d_expected)
    torch.testing.assert_close(ra.g_loss(fake, None, real), g_expected)
    assert ra.relativistic


@pytest.mark.parametrize("name", NEW_LOSSES)
def test_stacked_seeds_get_their_own_losses(name):
    """[S, B] logits give S losses, each equal to that seed's 1-D loss (the batch means never mix
    seeds, which matters for RaGAN's averages)."""
    obj = LOSSES[name]
    real, fake = logits(2, 4, 16, seed=2)
    g_args = (real,) if obj.relativistic else ()
    d, g = obj.d_loss(real, fake, None), obj.g_loss(fake, None, *g_args)
    assert d.shape == g.shape == (4,)
    for s in range(4):
        torch.testing.assert_close(d[s], obj.d_loss(real[s], fake[s], None))
        torch.testing.assert_close(g[s], obj.g_loss(fake[s], None, *(a[s] for a in g_args)))


# ---- f-GAN ----------------------------------------------------------------------------------
# Points inside each conjugate's domain (Table 2 of Nowozin et al. 2016).
CONJUGATE_POINTS = {
    "kl": [-2.0, 0.0, 0.5, 1.5],
    "reverse_kl": [-3.0, -1.0, -0.2],
    "pearson": [-1.5, 0.0, 1.0, 3.0],
    "hellinger": [-2.0, 0.0, 0.5, 0.9],
    "js": [-2.0, 0.0, 0.4, 0.65],
}


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_conjugate_is_the_fenchel_conjugate_of_f(name):
    """f*(t) = sup_u (u t − f(u)), found numerically from f alone."""
    div = F_DIVERGENCES[name]
    lower = -50.0 if name == "pearson" else 1e-12  # Pearson's f is (u − 1)² on all of R
    for t in CONJUGATE_POINTS[name]:

        def neg(u):
            return -(u * t - float(div.f(torch.tensor(u))))

        best = minimize_scalar(
            neg, bounds=(lower, 200.0), method="bounded", options={"xatol": 1e-12}
        )
        assert float(div.conjugate(torch.tensor(t))) == pytest.approx(-best.fun, abs=1e-6), (
            name,
            t,
        )


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_the_bound_is_tight_at_the_optimal_critic(name):
    """E_P[T*] − E_Q[f*(T*)] = D_f(P‖Q) = Σ q f(p/q) at T* = f'(p/q) (the paper's eq. 5)."""
    div = F_DIVERGENCES[name]
    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    q = torch.tensor([0.25, 0.3, 0.15, 0.3])
    u = (p / q).requires_grad_(True)
    (t_star,) = torch.autograd.grad(div.f(u).sum(), u)
    bound = (p * t_star).sum() - (q * div.conjugate(t_star)).sum()
    torch.testing.assert_close(bound, (q * div.f(p / q)).sum())


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_fgan_losses_use_the_activation_and_its_conjugate(name):
    div, obj = F_DIVERGENCES[name], LOSSES[f"fgan_{name}"]
    v = torch.linspace(-4, 4, 41)
    # The stable composition equals f*(g_f(v)) wherever both are finite.
    torch.testing.assert_close(div.conjugate_of_activation(v), div.conjugate(div.activation(v)))
    real, fake = logits(2, 50, seed=3)
    expected_d = -div.activation(real).mean() + div.conjugate(div.activation(fake)).mean()
    torch.testing.assert_close(obj.d_loss(real, fake, None), expected_d)
    torch.testing.assert_close(obj.g_loss(fake, None), -div.activation(fake).mean())
    assert not obj.relativistic and not obj.uses_alpha


def test_fgan_activations_follow_table_2():
    v = torch.linspace(-3, 3, 13)
    table = {
        "kl": v,
        "reverse_kl": -torch.exp(-v),
        "pearson": v,
        "hellinger": 1 - torch.exp(-v),
        "js": math.log(2) - torch.log(1 + torch.exp(-v)),
    }
    for name, expected in table.items():
        torch.testing.assert_close(F_DIVERGENCES[name].activation(v), expected)


def test_fgan_js_is_the_gan_discriminator_loss_shifted_by_2_log_2():
    real, fake = logits(2, 30, seed=4)
    js = LOSSES["fgan_js"].d_loss(real, fake, None)
    bce = F.binary_cross_entropy_with_logits(
        real, torch.ones(30)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros(30))
    torch.testing.assert_close(js, bce - 2 * math.log(2))


# ---- R1 / R2 --------------------------------------------------------------------------------
@pytest.mark.parametrize("n_seeds", [1, 3])
def test_penalty_of_a_quadratic_critic_is_closed_form(n_seeds):
    """C_s(x) = w_s·x + ½ xᵀA_s x has ∇C_s(x) = w_s + A_s x (A_s symmetric)."""
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(n_seeds, 2, generator=gen)
    a = torch.randn(n_seeds, 2, 2, generator=gen)
    a = a + a.transpose(1, 2)
    x = torch.randn(n_seeds, 7, 2, generator=gen)

    def critic(points):
        return (points * w[:, None]).sum(-1) + 0.5 * torch.einsum(
            "sbi,sij,sbj->sb", points, a, points
        )

    grads = w[:, None] + torch.einsum("sij,sbj->sbi", a, x)
    expected = (grads**2).sum(-1).mean(-1)
    torch.testing.assert_close(squared_input_gradient(critic, x, feature_dims=1), expected)


@pytest.mark.parametrize("n_seeds", [1, 4])
def test_penalties_of_stacked_mlps_match_per_sample_gradients_of_each_seed(n_seeds):
    """Reference: each seed's own nn.Sequential, per-sample gradients by torch.func.vmap."""
    gen = torch.Generator().manual_seed(6)
    sizes = [2, 8, 8, 1]
    D = StackedMLP(n_seeds, sizes, "leaky_relu")
    per_seed = [
        [
            (torch.randn(o, i, generator=gen), torch.randn(o, generator=gen))
            for i, o in zip(sizes[:-1], sizes[1:])
        ]
        for _ in range(n_seeds)
    ]
    D.load_per_model(per_seed)
    real, fake = torch.randn(2, n_seeds, 9, 2, generator=gen)
    r1, r2 = 3.0, 0.7
    got = zero_centred_penalties(lambda x: D(x).squeeze(-1), real, fake, r1, r2, feature_dims=1)
    for s, params in enumerate(per_seed):
        net = nn.Sequential(
            nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)
        )
        with torch.no_grad():
            for lin, (w, b) in zip([m for m in net if isinstance(m, nn.Linear)], params):
                lin.weight.copy_(w)
                lin.bias.copy_(b)
        per_sample = torch.func.vmap(torch.func.grad(lambda x: net(x).squeeze()))
        expected = sum(
            0.5 * g * (per_sample(x[s]) ** 2).sum(-1).mean() for g, x in ((r1, real), (r2, fake))
        )
        torch.testing.assert_close(got[s], expected)


def test_image_penalty_matches_a_per_image_loop_and_trains_the_critic():
    gen = torch.Generator().manual_seed(7)
    conv = nn.Conv2d(3, 4, 3)
    head = nn.Linear(4 * 6 * 6, 1)

    def critic(x):
        return head(torch.tanh(conv(x)).flatten(1)).squeeze(-1)

    real, fake = torch.randn(2, 5, 3, 8, 8, generator=gen)
    got = zero_centred_penalties(critic, real, fake, 2.0, 0.5, feature_dims=3)
    expected = 0.0
    for gamma, batch in ((2.0, real), (0.5, fake)):
        norms = []
        for img in batch:
            x = img[None].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(critic(x).sum(), x)
            norms.append((g**2).sum())
        expected = expected + 0.5 * gamma * torch.stack(norms).mean()
    torch.testing.assert_close(got, expected)
    # create_graph: the penalty reaches the critic's weights (R1 of C(x) = w·x is γ/2 ‖w‖²).
    w = torch.randn(3 * 8 * 8, generator=gen).requires_grad_(True)
    penalty = zero_centred_penalties(
        lambda x: x.flatten(1) @ w, real, fake, 2.0, 0.0, feature_dims=3
    )
    torch.testing.assert_close(penalty, w.detach().pow(2).sum())
    (grad_w,) = torch.autograd.grad(penalty, w)
    torch.testing.assert_close(grad_w, 2.0 * w.detach())
    assert zero_centred_penalties(critic, real, fake, 0.0, 0.0, feature_dims=3) == 0.0


# ---- the ring trainer (stacked == a plain single-run loop: tests/test_ring_equivalence.py) ----
def test_penalties_change_the_trained_discriminator():
    """R1 / R2 reach D: the same job with γ > 0 ends with other D weights, G's first step equal."""
    base = single_job(tiny_study(grids=[{"objective": "hinge"}], seeds=1, train={"steps": 1}))
    with_r1 = single_job(
        tiny_study(grids=[{"objective": "hinge"}], seeds=1, train={"steps": 1, "r1_gamma": 10.0})
    )
    a, b = RingTrainer(base), RingTrainer(with_r1)
    a.train_step()
    b.train_step()
    assert not torch.allclose(a.D.weights[0], b.D.weights[0])


# ---- image trainer ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    from gansweep.data import download, prepare
    from gansweep.testing.fixtures import make_cifar10_archive

    src, root = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("data")
    archive, md5 = make_cifar10_archive(src, n_train_per_batch=4, n_test=2)
    download("cifar10", root, url=archive.as_uri(), md5=md5)
    prepare("cifar10", root, workers=0)
    return root


def image_spec(root, objective, **train):
    from gansweep.config import validate_config
    from gansweep.plan import image_jobs

    study = {
        "dataset": "cifar10",
        "architecture": "dcgan32",
        "grids": [{"objective": objective, "lr": [2e-4]}],
        "seeds": [1],
        "train": {"steps": 2, "batch_size": 4, **train},
        "log": {"every": 1},
        "execution": {"threads": 1, "device": "cpu"},
    }
    config = validate_config({"studies": {"s": study}})
    return next(iter(image_jobs("s", config["studies"]["s"], str(root)).values()))


@pytest.mark.parametrize("objective", NEW_LOSSES)
def test_every_new_loss_trains_an_image_gan(cifar_root, objective):
    from gansweep.training.image import ImageTrainer

    torch.set_default_dtype(torch.float32)  # image models are float32
    trainer = ImageTrainer(
        image_spec(cifar_root, objective, r1_gamma=1.0, r2_gamma=1.0), 1, log=open(os.devnull, "w")
    )
    for _ in range(2):
        stats = trainer.train_step()
        assert all(np.isfinite(float(v)) for v in stats.values()), stats


def test_image_penalties_and_relativistic_g_step_use_what_they_should(cifar_root, monkeypatch):
    from gansweep.training.image import ImageTrainer

    torch.set_default_dtype(torch.float32)
    devnull = open(os.devnull, "w")

    def d_after_one_step(**train):
        torch.manual_seed(0)
        trainer = ImageTrainer(image_spec(cifar_root, "rpgan", **train), 1, log=devnull)
        trainer._d_step(record=False)
        return trainer, [p.detach().clone() for p in trainer.D.parameters()]

    _, plain = d_after_one_step()
    _, with_r1 = d_after_one_step(r1_gamma=10.0)
    _, with_r2 = d_after_one_step(r2_gamma=10.0)
    assert not all(torch.equal(a, b) for a, b in zip(plain, with_r1))
    assert not all(torch.equal(a, b) for a, b in zip(plain, with_r2))

    # The G step's RpGAN loss compares with the real logits of the D step's real batch.
    trainer, _ = d_after_one_step()
    seen = {}
    original = LOSSES["rpgan"].g_loss

    def spy(fake, alpha, real):
        seen["real"] = real
        return original(fake, alpha, real)

    monkeypatch.setattr(trainer, "objective", dataclasses.replace(LOSSES["rpgan"], g_loss=spy))
    trainer._g_step()
    with torch.no_grad():
        expected = trainer.D(trainer._last_real).float()
    torch.testing.assert_close(seen["real"], expected.reshape(seen["real"].shape))
