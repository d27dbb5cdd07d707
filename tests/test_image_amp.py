"""bf16 autocast (``execution.amp``) on the CPU: the path a GPU job takes, with every objective
and every penalty. D's loss passes run in bf16 inside autocast; its penalty passes in float32
outside it (gansweep.training.image), so bf16 fakes never meet D's float32 weights bare."""

import os

import pytest
import torch
from conftest import REPO  # noqa: F401  (conftest's registries are restored after each test)

from gansweep.config import validate_config
from gansweep.data import download, prepare
from gansweep.losses import LOSSES
from gansweep.plan import image_jobs
from gansweep.testing.fixtures import make_cifar10_archive
from gansweep.training.image import ImageTrainer


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    src, root = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("data")
    archive, md5 = make_cifar10_archive(src, n_train_per_batch=4, n_test=2)
    download("cifar10", root, url=archive.as_uri(), md5=md5)
    prepare("cifar10", root, workers=0)
    return root


def trainer_for(root, objective, amp, **train):
    grid = {"objective": objective, "lr": [1e-4]}
    study = {
        "dataset": "cifar10",
        "architecture": "dcgan32",
        "grids": [grid],
        "seeds": [1],
        "train": {"steps": 2, "batch_size": 2, **train},
        "log": {"every": 1},
        "execution": {"threads": 1, "device": "cpu", "amp": amp},
    }
    config = validate_config({"studies": {"s": study}})
    spec = next(iter(image_jobs("s", config["studies"]["s"], str(root)).values()))
    torch.set_default_dtype(torch.float32)
    return ImageTrainer(spec, 1, log=open(os.devnull, "w"))


def spy_on_d(trainer) -> list[tuple[bool, torch.dtype]]:
    """Records, per pass of D, whether CPU autocast was on and the dtype of D's output."""
    seen, discriminate = [], trainer._discriminate

    def spy(x):
        out = discriminate(x)
        seen.append((torch.is_autocast_enabled("cpu"), out[0].dtype))
        return out

    trainer._discriminate = spy
    return seen


# wgan brings weight clipping and wgan_gp the gradient penalty; R1 and R2 are on for all.
@pytest.mark.parametrize("objective", LOSSES.names())
def test_amp_on_cpu_trains_every_objective_with_every_penalty(cifar_root, objective):
    trainer = trainer_for(cifar_root, objective, True, r1_gamma=1.0, r2_gamma=1.0)
    seen = spy_on_d(trainer)
    for _ in range(2):
        stats = trainer.train_step()
        assert all(torch.isfinite(v).all() for v in stats.values()), stats
    assert trainer.metadata()["amp_bf16"] is True
    assert {dtype for on, dtype in seen if on} == {torch.bfloat16}  # the loss passes
    # R1 and R2 (and WGAN-GP's interpolates) through D in float32, outside autocast.
    assert {dtype for on, dtype in seen if not on} == {torch.float32}
    if "weight_clip" in LOSSES[objective].regularisers:
        clip = trainer.spec["train"]["weight_clip"]
        assert all(p.abs().max() <= clip for p in trainer.D.parameters())


def test_without_amp_nothing_runs_in_bf16_and_the_metadata_says_so(cifar_root):
    trainer = trainer_for(cifar_root, "wgan_gp", False, r2_gamma=1.0)
    seen = spy_on_d(trainer)
    trainer.train_step()
    assert trainer.metadata()["amp_bf16"] is False
    assert seen and all(not on and dtype == torch.float32 for on, dtype in seen)
