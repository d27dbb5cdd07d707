"""The seed-vectorised trainer is the single-seed algorithm, run for many seeds at once."""

import math

import pytest
import torch
from conftest import single_job, tiny_study
from torch import nn

from gansweep.data import make_toy_data
from gansweep.losses import LOSSES
from gansweep.training.ring import RingTrainer, initial_params, run_generator


def mlp(params, activation):
    layers = []
    for i, (w, b) in enumerate(params):
        lin = nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(activation())
    return nn.Sequential(*layers)


def _mean_sq_input_grad(net, x):
    """Mean over samples of ‖∇_x D(x)‖² for one unstacked D (R1 on reals, R2 on fakes)."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    return (g**2).sum(-1).mean()


def train_one_seed(spec, run):
    """Plain single-seed training: nn.Sequential, torch.optim.Adam, one D then one G step
    (with weight clipping for critics, R1 / R2 when set, real logits for relativistic G)."""
    data = make_toy_data(
        spec["dataset"], spec["data"]["n_train"], spec["data"]["n_test"], spec["data"]["data_seed"]
    )
    g_params, d_params = initial_params(spec, run["seed"])
    G = mlp(g_params, nn.ReLU)
    D = mlp(d_params, lambda: nn.LeakyReLU(0.2))
    obj, train = LOSSES[spec["objective"]], spec["train"]
    r1, r2 = train.get("r1_gamma", 0.0), train.get("r2_gamma", 0.0)
    betas = tuple(train["betas"])
    opt_g = torch.optim.Adam(G.parameters(), spec["lr"], betas)
    opt_d = torch.optim.Adam(D.parameters(), spec["lr"], betas)
    shuffle = run_generator(run["seed"], "shuffle")
    n, batch = spec["data"]["n_train"], train["batch_size"]
    a_d, a_g = run["alpha_d"] or 1.0, run["alpha_g"] or 1.0
    step = 0
    while step < spec["steps"]:
        perm_real, perm_noise = (
            torch.randperm(n, generator=shuffle),
            torch.randperm(n, generator=shuffle),
        )
        for start in range(0, n, batch):
            if step == spec["steps"]:
                break
            real = data.train_real[perm_real[start : start + batch]]
            fake = G(data.train_noise[perm_noise[start : start + batch]])
            loss_d = obj.d_loss(D(real).squeeze(-1), D(fake.detach()).squeeze(-1), a_d)
            loss_d = (
                loss_d
                + 0.5 * r1 * _mean_sq_input_grad(D, real)
                + 0.5 * r2 * _mean_sq_input_grad(D, fake)
            )
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if "weight_clip" in obj.regularisers:
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-train["weight_clip"], train["weight_clip"])
            real_logits = (D(real).squeeze(-1),) if obj.relativistic else ()
            loss_g = obj.g_loss(D(fake).squeeze(-1), a_g, *real_logits)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            step += 1
    return G, D


# Every registered loss (the reference has no gradient penalty: wgan_gp is checked alone vs
# packed below), α grids with α = 1, ∞ and mixed, and the R1 / R2 penalties on two losses.
ALPHA_GRIDS = [
    {"objective": "saturating", "alpha_d": [0.3, 1.0, math.inf], "alpha_g": [1.0, 1.2]},
    {"objective": "non_saturating", "alpha_d": [0.5, 1.0], "alpha_g": [1.3]},
]
EQUIVALENCE_CASES = (
    [(grid, {}) for grid in ALPHA_GRIDS]
    + [
        ({"objective": name}, {})
        for name in LOSSES
        if not LOSSES[name].uses_alpha and "wgan_gp" not in LOSSES[name].regularisers
    ]
    + [
        ({"objective": "rpgan"}, {"r1_gamma": 1.0, "r2_gamma": 0.5}),  # R3GAN
        (
            {"objective": "non_saturating", "alpha_d": [0.5, 1.0]},
            {"r1_gamma": 2.0},
        ),  # R1 on another loss
    ]
)


@pytest.mark.parametrize(
    "grid,penalties",
    EQUIVALENCE_CASES,
    ids=[g["objective"] + ("+" + "+".join(p) if p else "") for g, p in EQUIVALENCE_CASES],
)
def test_stacked_training_equals_per_seed_training_in_float64(grid, penalties):
    # 20 steps of 8 per epoch: two epoch boundaries and two partial batches (104 of 128).
    spec = single_job(tiny_study(grids=[grid], seeds=2, train={"steps": 20, **penalties}))
    trainer = RingTrainer(spec)
    while trainer.step < spec["steps"]:
        trainer.train_step()
    assert int((trainer.first_bad >= 0).sum()) == 0
    worst = 0.0
    for i, run in enumerate(spec["runs"]):
        G, D = train_one_seed(spec, run)
        for stacked, single in ((trainer.G, G), (trainer.D, D)):
            linears = [m for m in single if isinstance(m, nn.Linear)]
            for layer, lin in enumerate(linears):
                worst = max(worst, (stacked.weights[layer][i].T - lin.weight).abs().max().item())
                worst = max(worst, (stacked.biases[layer][i, 0] - lin.bias).abs().max().item())
    assert worst < 1e-10, worst


def test_a_diverged_seed_never_touches_the_others():
    spec = single_job(tiny_study(seeds=3, grids=[{"objective": "saturating", "alpha_d": [0.5]}]))
    clean, poisoned = RingTrainer(spec), RingTrainer(spec)
    for step in range(spec["steps"]):
        if step == 7:
            with torch.no_grad():
                poisoned.D.weights[1][1].fill_(float("nan"))
        clean.train_step()
        poisoned.train_step()
    for ok in (0, 2):
        for a, b in zip(clean.G.parameters(), poisoned.G.parameters()):
            assert torch.equal(a[ok], b[ok])
    assert bool(torch.isnan(poisoned.G.weights[0][1]).any())
    rows = poisoned.evaluate()
    bad = [r for r in rows if r["status"] == "diverged"]
    assert [r["seed"] for r in bad] == [2]  # runs are seeds 1, 2, 3
    assert bad[0]["diverged_step"] == 8 and bad[0]["failure"] and not bad[0]["success"]
    assert "non-finite loss at step 8" in bad[0]["reason"]


def test_fresh_noise_draws_new_latents_each_step():
    fixed = single_job(tiny_study(seeds=1, train={"steps": 3}))
    fresh = single_job(tiny_study(seeds=1, train={"steps": 3}, data={"fresh_noise": True}))
    a, b = RingTrainer(fixed), RingTrainer(fresh)
    za, zb = a._next_batch()[1], b._next_batch()[1]
    assert za.shape == zb.shape and not torch.allclose(za, zb)
    noise = a.noise
    assert any(torch.equal(za[0, 0], row) for row in noise)  # fixed: drawn from the latent set
    assert not any(torch.equal(zb[0, 0], row) for row in noise)


@pytest.mark.parametrize("objective", ["wgan_gp"])
def test_a_seed_trains_the_same_alone_and_packed_with_others(objective):
    # A job of one run (one seed, seeds_per_job: 1, a leftover chunk) must not change the
    # mathematics: the gradient penalty once flattened a size-1 run axis into the features.
    grids = [{"objective": objective}]
    packed = RingTrainer(single_job(tiny_study(grids=grids, seeds=[1, 2, 3], train={"steps": 10})))
    alone = RingTrainer(single_job(tiny_study(grids=grids, seeds=[2], train={"steps": 10})))
    for _ in range(10):
        packed.train_step()
        alone.train_step()
    worst = 0.0
    for net_packed, net_alone in ((packed.G, alone.G), (packed.D, alone.D)):
        for a, b in zip(net_packed.parameters(), net_alone.parameters()):
            assert b.shape[0] == 1
            worst = max(worst, (a[1] - b[0]).abs().max().item())
    assert worst < 1e-10, worst
