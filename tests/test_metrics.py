"""Mode metrics against closed forms and a direct per-sample implementation."""

import math

import numpy as np
import torch

from gansweep.data import DATASETS, make_toy_data
from gansweep.metrics import mode_metrics

RING = DATASETS["ring"]()


def reference_metrics(samples: np.ndarray, means: np.ndarray, std: float) -> dict:
    """The authors' definition, sample by sample."""
    k = len(means)
    assigned = {i: [] for i in range(k)}
    for s in samples:
        assigned[int(np.argmin(np.linalg.norm(means - s, axis=1)))].append(s)
    counts = np.array([len(assigned[i]) for i in range(k)])
    p_fake = (counts + 1) / (len(samples) + k)
    p_real = np.full(k, 1 / k)

    def kl(p, q):
        return float(np.sum(p * np.log(p / q)))

    mid = (p_real + p_fake) / 2
    hq = [sum(np.linalg.norm(s - means[i]) <= 3 * std for s in assigned[i]) for i in range(k)]
    return {
        "modes_covered": sum(h >= 1 for h in hq),
        "hq_fraction": sum(hq) / len(samples),
        "kl": kl(p_real, p_fake),
        "rkl": kl(p_fake, p_real),
        "jsd": (kl(p_real, mid) + kl(p_fake, mid)) / 2,
        "tvd": float(np.abs(p_real - p_fake).sum() / 2),
    }


def test_matches_the_per_sample_definition():
    gen = torch.Generator().manual_seed(0)
    # A mix of near-mode points (some inside 3 std, some outside) and diffuse points.
    modes = RING.means[torch.tensor([0, 0, 1, 3, 3, 3, 6])]
    near = modes.repeat(30, 1) + 0.02 * torch.randn(210, 2, generator=gen, dtype=torch.float64)
    diffuse = torch.randn(90, 2, generator=gen, dtype=torch.float64)
    samples = torch.cat([near, diffuse])
    ours = mode_metrics(samples, RING.means, RING.std)
    ref = reference_metrics(samples.numpy(), RING.means.numpy(), RING.std)
    for key, value in ref.items():
        assert math.isclose(float(ours[key]), value, rel_tol=1e-12, abs_tol=1e-15), key


def test_perfect_generator_has_zero_divergence():
    samples = RING.means.repeat(100, 1)
    m = mode_metrics(samples, RING.means, RING.std)
    assert int(m["modes_covered"]) == 8 and bool(m["success"]) and not bool(m["failure"])
    assert float(m["hq_fraction"]) == 1.0
    for key in ("kl", "rkl", "jsd", "tvd"):
        assert abs(float(m[key])) < 1e-15


def test_total_collapse_closed_form():
    n = 1000
    samples = RING.means[2].repeat(n, 1)
    m = mode_metrics(samples, RING.means, RING.std)
    assert int(m["modes_covered"]) == 1
    p_fake = np.full(8, 1 / (n + 8))
    p_fake[2] = (n + 1) / (n + 8)
    assert math.isclose(float(m["kl"]), float(np.sum(np.log((1 / 8) / p_fake)) / 8), rel_tol=1e-12)
    assert math.isclose(float(m["tvd"]), float(np.abs(p_fake - 1 / 8).sum() / 2), rel_tol=1e-12)


def test_three_std_boundary_and_failure():
    on_edge = RING.means[0] + torch.tensor([3 * RING.std * (1 - 1e-9), 0.0], dtype=torch.float64)
    outside = RING.means[0] + torch.tensor([3 * RING.std * 1.01, 0.0], dtype=torch.float64)
    assert int(mode_metrics(on_edge[None], RING.means, RING.std)["modes_covered"]) == 1
    far = mode_metrics(outside[None], RING.means, RING.std)
    assert int(far["modes_covered"]) == 0 and bool(far["failure"])


def test_stacked_seeds_are_evaluated_independently():
    a = RING.means.repeat(10, 1)
    b = torch.zeros(80, 2, dtype=torch.float64)
    m = mode_metrics(torch.stack([a, b]), RING.means, RING.std)
    assert m["modes_covered"].tolist() == [8, 0]


def test_datasets_follow_the_protocol():
    ring = DATASETS["ring"]()
    assert ring.n_modes == 8 and ring.std == 0.01
    np.testing.assert_allclose(torch.linalg.norm(ring.means, dim=1), 1.0)
    grid = DATASETS["grid"]()
    assert grid.n_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    data = make_toy_data("ring", 5000, 300, data_seed=1)
    again = make_toy_data("ring", 5000, 300, data_seed=1)
    assert torch.equal(data.train_real, again.train_real) and data.test_noise.shape == (300, 2)
    m = mode_metrics(data.train_real, ring.means, ring.std)
    assert (
        int(m["modes_covered"]) == 8 and float(m["hq_fraction"]) > 0.98
    )  # 3σ of a 2D Gaussian: 98.9 %
