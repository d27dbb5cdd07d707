"""Mode metrics for Gaussian mixtures, as defined by the (αD, αG)-GAN authors.

Each generated sample is assigned to its nearest mode mean. A mode is *covered* when at
least one sample assigned to it lies within 3 std of its mean; *high-quality* samples are
those within 3 std of their nearest mean. The mode histogram is add-one smoothed,
P_fake(i) = (count_i + 1)/(N + K), and compared with the uniform P_real = 1/K by
KL(P_real‖P_fake), reverse KL, Jensen–Shannon divergence and total variation (natural log).
Success = all K modes covered; failure = none covered.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gansweep.registry import Registry

METRICS: Registry = Registry("metric")


def _kl(p: Tensor, q: Tensor) -> Tensor:
    return (p * (p / q).log()).sum(-1)


@METRICS.register("modes")
def mode_metrics(samples: Tensor, means: Tensor, std: float) -> dict[str, Tensor]:
    """samples [*lead, N, 2] (e.g. one set per seed), means [K, 2] → dict of [*lead]."""
    samples = samples.to(torch.float64)
    means = means.to(samples.device, torch.float64)
    n_modes = means.shape[0]
    dist = torch.cdist(samples, means.expand(*samples.shape[:-2], *means.shape))
    nearest_dist, nearest = dist.min(dim=-1)
    high_quality = nearest_dist <= 3 * std
    counts = torch.zeros(*samples.shape[:-2], n_modes, dtype=torch.float64, device=samples.device)
    counts.scatter_add_(-1, nearest, torch.ones_like(nearest_dist))
    hq_counts = torch.zeros_like(counts).scatter_add_(-1, nearest, high_quality.double())

    n = samples.shape[-2]
    p_fake = (counts + 1) / (n + n_modes)
    p_real = torch.full_like(p_fake, 1.0 / n_modes)
    mid = (p_real + p_fake) / 2
    covered = (hq_counts >= 1).sum(-1)
    return {
        "modes_covered": covered,
        "hq_fraction": high_quality.double().mean(-1),
        "kl": _kl(p_real, p_fake),
        "rkl": _kl(p_fake, p_real),
        "jsd": (_kl(p_real, mid) + _kl(p_fake, mid)) / 2,
        "tvd": (p_real - p_fake).abs().sum(-1) / 2,
        "success": covered == n_modes,
        "failure": covered == 0,
    }
