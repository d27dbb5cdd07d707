"""Quality and diversity apart, on the same Inception features as the FID.

``prdc``  precision, recall, density and coverage (Naeem, Oh, Uh, Choi, Yoo, ICML 2020), computed
          by the authors' ``prdc`` package on equally many real and fake features, k = 5 nearest
          neighbours (the paper's choice). Precision / density measure fidelity (fakes inside the
          real manifold), recall / coverage diversity (real modes reached by the fakes): mode
          collapse lowers recall and coverage while FID mixes both.
``kid``   the Kernel Inception Distance (Bińkowski et al., ICLR 2018) as torch-fidelity defines
          it: the unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged
          over ``subsets`` random subsets of ``subset_size`` real and fake features (drawn without
          replacement; the size shrinks to the available count, so small samples still work); its
          std over subsets is reported too.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from gansweep.metrics.modes import METRICS

FEATURE_METRICS = ("prdc", "kid")  # the config's eval.feature_metrics
PRDC_COLUMNS = ("precision", "recall", "density", "coverage")
NEAREST_K = 5
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _features(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(
            f"{name} features must be a non-empty [n, dims] array, got shape {a.shape}"
        )
    return a


@METRICS.register("prdc")
def prdc(real, fake, nearest_k: int = NEAREST_K) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020) of fake vs real Inception features, k = 5.

    ``real`` and ``fake`` are [n, dims] arrays; the ``prdc`` package computes the four values."""
    from prdc import compute_prdc

    real, fake = _features(real, "real"), _features(fake, "fake")
    if min(len(real), len(fake)) < nearest_k + 2:  # the k-th neighbour other than the point itself
        raise ValueError(
            f"PRDC with k = {nearest_k} needs at least {nearest_k + 2} real and fake features, "
            f"got {len(real)} and {len(fake)}"
        )
    with contextlib.redirect_stdout(sys.stderr):  # prdc prints the sample counts
        out = compute_prdc(real.astype(np.float32), fake.astype(np.float32), nearest_k=nearest_k)
    return {name: float(out[name]) for name in PRDC_COLUMNS}


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0
) -> np.ndarray:
    """(xᵀy / d + coef0)^degree, d = the feature dimension (torch-fidelity's and sklearn's default γ)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD²: off-diagonal means of k_xx and k_yy minus twice the mean of k_xy."""
    m, n = len(k_xx), len(k_yy)
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2 * k_xy.mean())


@METRICS.register("kid")
def kid(
    real, fake, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0
) -> dict[str, float]:
    """KID (Bińkowski et al. 2018): unbiased MMD², cubic polynomial kernel, mean and std over subsets.

    ``real`` and ``fake`` are [n, dims] arrays; subsets of ``min(subset_size, n)`` are drawn with ``seed``."""
    real = _features(real, "real").astype(np.float64)
    fake = _features(fake, "fake").astype(np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError(
            f"KID needs at least 2 real and 2 fake features, got {len(real)} and {len(fake)}"
        )
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        f = fake[rng.choice(len(fake), size, replace=False)]
        r = real[rng.choice(len(real), size, replace=False)]
        values[i] = mmd2_unbiased(
            polynomial_kernel(f, f), polynomial_kernel(r, r), polynomial_kernel(f, r)
        )
    return {
        "kid": float(values.mean()),
        "kid_std": float(values.std()),
        "kid_subset_size": int(size),
        "kid_subsets": int(subsets),
    }
