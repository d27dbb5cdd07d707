"""D's penalties: one registry, chosen per job by the objective and the settings, applied by
trainers that do not know which objective they run; a plugin adds a penalty on its own."""

import re

import pytest
import torch
import yaml
from conftest import REPO, single_job, tiny_study

from gansweep.config import ConfigError, validate_config
from gansweep.losses import LOSSES, Objective
from gansweep.penalties import PENALTIES, CriticBatch, for_job
from gansweep.plan import ring_jobs
from gansweep.training.ring import RingTrainer

EXAMPLE = REPO / "docs/plugins/my_penalty.py"


def names(objective: str, **train) -> list[str]:
    return [p.name for p in for_job(LOSSES[objective], {"r1_gamma": 0, "r2_gamma": 0, **train}).all]


def test_a_job_runs_its_objectives_penalties_and_those_its_settings_switch_on():
    assert names("hinge") == []
    assert names("wgan") == ["weight_clip"]
    assert names("wgan_gp") == ["wgan_gp"]
    assert names("rpgan", r1_gamma=1.0, r2_gamma=0.5) == ["r1", "r2"]  # R3GAN
    assert names("wgan_gp", r2_gamma=2.0) == ["wgan_gp", "r2"]
    assert names("saturating", r1_gamma=0.0, r2_gamma=3.0) == ["r2"]


def test_an_objective_naming_an_unregistered_penalty_fails_with_the_registered_ones():
    obj = Objective("mine", LOSSES["hinge"].d_loss, LOSSES["hinge"].g_loss, regularisers=("nope",))
    with pytest.raises(KeyError, match=r"objective 'mine' names the penalty 'nope'.*r1, r2"):
        for_job(obj, {})


def test_penalty_random_numbers_are_drawn_only_when_a_penalty_asks():
    """WGAN-GP draws its mixing weights from the batch; R1 / R2 and clipping draw none, so
    the run's penalty stream is untouched by objectives without a gradient penalty."""
    draws = []

    def uniform():
        draws.append(1)
        return torch.full((2, 3, 1), 0.5, dtype=torch.float64)

    x = torch.randn(2, 3, 2, dtype=torch.float64)
    batch = CriticBatch(lambda v: v.sum(-1), x, -x, 1, uniform)
    loss = torch.zeros(2, dtype=torch.float64)
    train = {"r1_gamma": 1.0, "r2_gamma": 1.0, "gp_weight": 10.0, "weight_clip": 0.01}
    for_job(LOSSES["hinge"], train).d_loss(loss, batch)
    for_job(LOSSES["wgan"], train).d_loss(loss, batch)
    assert draws == []
    for_job(LOSSES["wgan_gp"], train).d_loss(loss, batch)
    assert draws == [1]


def test_weight_clipping_acts_on_every_run_of_a_stacked_critic():
    spec = single_job(tiny_study(grids=[{"objective": "wgan"}], seeds=3, train={"steps": 1}))
    trainer = RingTrainer(spec)
    with torch.no_grad():
        for p in trainer.D.parameters():
            p.mul_(100.0)
    trainer.regularisers.after_d_step(trainer.D)
    clip = spec["train"]["weight_clip"]
    for p in trainer.D.parameters():
        assert p.shape[0] == 3 and p.abs().max() <= clip and (p.abs() == clip).any()


def test_a_plugin_objective_with_a_new_penalty_trains_on_the_ring():
    """docs/plugins/my_penalty.py registers the drift penalty and an objective naming it; the
    ring trainer, unchanged, adds exactly ε·E_real[D(x)²] to each run's D loss."""
    study = tiny_study(grids=[{"objective": "wgan_gp_drift"}], seeds=2, train={"steps": 6})
    with pytest.raises(ConfigError, match="'wgan_gp_drift' is not allowed"):
        validate_config({"studies": {"s": dict(study)}})
    config = validate_config({"studies": {"s": study}, "plugins": [str(EXAMPLE)]})
    assert PENALTIES.origin("drift") == str(EXAMPLE)
    (spec,) = ring_jobs("s", config["studies"]["s"]).values()
    base_spec = {**spec, "objective": "wgan_gp"}

    def first_d_grads(job):
        trainer = RingTrainer(job)
        grads, step = [], trainer.opt_d.step
        trainer.opt_d.step = lambda: (
            grads.append([p.grad.clone() for p in trainer.D.parameters()]),
            step(),
        )
        trainer.train_step()
        return grads[0]

    # The same init, batches and GP mixing weights; the difference is the drift term's gradient.
    reference = RingTrainer(base_spec)
    real, _ = reference._next_batch()
    drift = 1e-3 * reference._critic(real).pow(2).mean(-1)
    expected = torch.autograd.grad(drift.sum(), list(reference.D.parameters()))
    got = [a - b for a, b in zip(first_d_grads(spec), first_d_grads(base_spec))]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12)
    assert any(e.abs().max() > 1e-6 for e in expected)

    trainer = RingTrainer(spec)
    rows = trainer.fit(None)
    assert [r["step"] for r in rows] == [6, 6] and int((trainer.first_bad >= 0).sum()) == 0


def test_the_extending_page_shows_the_example_file_and_a_valid_config(monkeypatch):
    page = (REPO / "docs/extending.md").read_text()
    section = page[page.index("## Adding an objective or penalty") :]
    python, config = re.findall(r"```(?:python|yaml)\n(.*?)```", section, re.S)[:2]
    assert python in EXAMPLE.read_text()
    monkeypatch.chdir(REPO)
    validated = validate_config(yaml.safe_load(config))
    grids = validated["studies"]["drift_ring"]["grids"]
    assert [g["objective"] for g in grids] == ["wgan_gp_drift", "wgan_gp"]
