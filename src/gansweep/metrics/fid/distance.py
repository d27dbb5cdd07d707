"""The Fréchet distance between two Gaussians (mean, covariance), by pytorch-fid."""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any

import numpy as np


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}) by pytorch-fid's ``calculate_frechet_distance``
    (SciPy sqrtm; a 1e-6 diagonal offset when the product is singular). Its notice about that
    offset goes to stderr, and SciPy 1.17's deprecation warning about ``disp`` is silenced (the
    project bounds SciPy < 1.18, where ``disp`` is removed)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    mu1, mu2 = (np.asarray(m, dtype=np.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (np.asarray(s, dtype=np.float64) for s in (sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(
            f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}"
        )
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.filterwarnings(
            "ignore", message=".*`disp` argument is deprecated.*", category=DeprecationWarning
        )
        return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))
