"""Seed planning for the test the study runs: Fisher's exact two-sided test of two success
rates, n seeds per cell in both cells, at a per-comparison α (before Holm).

Exact power. Outcomes are x1 ~ Bin(n, p1) and x2 ~ Bin(n, p2). Fisher's test conditions on
t = x1 + x2, under which x1 is hypergeometric (2n tables, n in the first row, t successes);
its two-sided p is the sum of the probabilities of the tables no more probable than the
observed one (``scipy.stats.fisher_exact``'s definition), and the comparison is significant
when p < α, as in ``stats.compare_rates``. (scipy and R compare probabilities with a small
relative tolerance to catch tables as probable as the observed one; with equal rows those
are its mirror images, taken exactly here.) With equal rows the hypergeometric law is
symmetric about t/2 and unimodal, so that sum is 2·F_t(min(x1, x2)) for x1 ≠ x2 (F_t its
cdf) and 1 for x1 = x2; a table is rejected iff min(x1, x2) ≤ c_t for a cutoff c_t that
depends on n and α alone. The (n+1)×(n+1) rejection matrix is therefore computed once per n
(cached), and power = Σ over rejected tables of Bin(x1; n, p1)·Bin(x2; n, p2).

Power is not monotone in n (the rejection region moves in steps), so "seeds needed" is the
smallest n from which the power stays at or above the target: power(m) ≥ target for every m
in [n, n + window(n)], window(n) = max(10, ⌈n / 4⌉), i.e. for at least a quarter again as
many seeds (for the contrasts in tests/test_power.py it stays there up to 2n).

Beyond ``EXACT_MAX_N`` seeds per cell enumeration costs too much, and the normal
approximation on Cohen's arcsine effect size h = 2 asin √p2 − 2 asin √p1 is used instead;
every result says which (``FISHER`` or ``NORMAL``).
"""

from __future__ import annotations

import itertools
import math
from functools import cache, lru_cache

import numpy as np
from scipy import stats
from scipy.special import gammaln

FISHER = "fisher_exact"
NORMAL = "normal_approx"
# Largest n per cell computed exactly: one rejection matrix is (n+1)² cells, and a seed search
# scans every n up to the answer, so the cost grows as n³ (a search near 1,000 took 10 s here).
EXACT_MAX_N = 1000
# Rate grid on which detectable_rates looks for the first crossing before bisecting it.
_GRID = 1000


def _check(n: int | None = None, rates=(), power: float | None = None, alpha: float = 0.05):
    if n is not None and (not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"seeds per cell must be a whole number ≥ 1, not {n!r}")
    for p in rates:
        if not 0 <= p <= 1:
            raise ValueError(f"a success rate must lie in [0, 1], not {p!r}")
    if power is not None and not 0 < power < 1:
        raise ValueError(f"the target power must lie in (0, 1), not {power!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha!r}")


def window(n: int) -> int:
    """How many further seed counts the power must stay at or above the target for."""
    return max(10, math.ceil(n / 4))


# --------------------------------------------------------------------------- Fisher, exact
@cache
def _cutoffs(n: int, alpha: float) -> np.ndarray:
    """c_t for t = 0..2n: Fisher's two-sided test rejects a table with margin t iff
    min(x1, x2) ≤ c_t (−1: no table with that margin is rejected)."""
    # Margins t ≤ n only, and x1 < t/2 ≤ n/2 only; t > n follows by swapping success and
    # failure, which keeps p: (x1, x2) ↦ (n − x1, n − x2) maps margin t to 2n − t.
    k = np.arange(n // 2 + 1)
    t = np.arange(n + 1)[:, None]
    log_choose = gammaln(n + 1) - gammaln(np.arange(n + 1) + 1) - gammaln(n - np.arange(n + 1) + 1)
    log_total = gammaln(2 * n + 1) - gammaln(t + 1) - gammaln(2 * n - t + 1)
    below_mode = 2 * k[None, :] < t  # also x1 ≤ t, so x2 = t − x1 lies in [0, n]
    log_pmf = log_choose[k][None, :] + log_choose[np.clip(t - k, 0, n)] - log_total
    pmf = np.exp(np.where(below_mode, log_pmf, -np.inf))
    # Lower tail summed from the smallest terms up; doubled, it is the p of x1 < t/2.
    rejected = below_mode & (2 * np.cumsum(pmf, axis=1) < alpha)
    # The tail grows with x1, so the rejected x1 are 0..c_t.
    low = rejected.sum(axis=1) - 1
    high = np.where(low[:-1] >= 0, n - t[:-1, 0] + low[:-1], -1)[::-1]  # margins 2n − t, t < n
    cut = np.concatenate([low, high]).astype(np.int64)
    cut.setflags(write=False)  # cached: shared by every caller
    return cut


def fisher_reject(n: int, alpha: float = 0.05) -> np.ndarray:
    """Boolean (n+1)×(n+1) matrix: entry (x1, x2) is True iff Fisher's two-sided exact test
    of x1/n vs x2/n successes gives p < alpha."""
    _check(n, alpha=alpha)
    cut = _cutoffs(int(n), float(alpha))
    x = np.arange(n + 1)
    return (x[:, None] != x[None, :]) & (np.minimum.outer(x, x) <= cut[np.add.outer(x, x)])


def _binom(n: int, p) -> np.ndarray:
    """Bin(x; n, p) for x = 0..n, one column per rate in p."""
    return stats.binom.pmf(np.arange(n + 1)[:, None], n, np.atleast_1d(p)[None, :])


def _fisher_curve(n: int, p1: float, alpha: float):
    """p2 (array) -> exact power against p1, with the rejection matrix built once."""
    weights = _binom(n, p1)[:, 0] @ fisher_reject(n, alpha)
    return lambda p2: weights @ _binom(n, p2)


def fisher_power(n: int, p1: float, p2, alpha: float = 0.05):
    """Exact power of Fisher's two-sided test with n per cell for rates p1 vs p2 (p2 may be
    an array of rates: one power each)."""
    _check(n, (p1, *np.atleast_1d(p2)), alpha=alpha)
    out = _fisher_curve(n, p1, alpha)(p2)
    return float(out[0]) if np.ndim(p2) == 0 else out


# --------------------------------------------------------------------------- normal fallback
def _z(alpha: float, power: float | None = None) -> float:
    z = stats.norm.isf(alpha / 2)
    return z + stats.norm.ppf(power) if power is not None else z


def cohens_h(p1: float, p2: float) -> float:
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def normal_power(n: float, p1: float, p2: float, alpha: float = 0.05) -> float:
    """Power of the two-sided z test on Cohen's h with n per cell (both tails)."""
    shift = abs(cohens_h(p1, p2)) * math.sqrt(n / 2)
    z = _z(alpha)
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def normal_seeds_needed(p1: float, p2: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """n = ⌈2 (z_{1−α/2} + z_power)² / h²⌉ (the far tail neglected)."""
    return math.ceil(2 * (_z(alpha, power) / cohens_h(p1, p2)) ** 2)


# --------------------------------------------------------------------------- planning
def power_at(n: int, p1: float, p2: float, alpha: float = 0.05) -> tuple[float, str]:
    """(power with n seeds per cell, the test it was computed for)."""
    _check(n, (p1, p2), alpha=alpha)
    if n > EXACT_MAX_N:
        return normal_power(n, p1, p2, alpha), NORMAL
    return fisher_power(n, p1, p2, alpha), FISHER


@lru_cache(maxsize=256)
def seeds_needed(p1: float, p2: float, power: float = 0.8, alpha: float = 0.05) -> tuple[int, str]:
    """(seeds per cell, test): the smallest n with power(m) ≥ ``power`` for every m in
    [n, n + window(n)] under Fisher's exact test; the normal approximation's n where that
    exceeds ``EXACT_MAX_N``."""
    _check(None, (p1, p2), power, alpha)
    if p1 == p2:
        raise ValueError(
            f"the two success rates are equal ({p1:g}): no number of seeds detects a zero difference"
        )
    approx = normal_seeds_needed(p1, p2, power, alpha)
    if approx > EXACT_MAX_N:
        return approx, NORMAL
    # Exact power tends to 1, so the scan ends; run counts the seed counts n..m that reach it.
    n, run = 1, 0
    for m in itertools.count(1):
        if fisher_power(m, p1, p2, alpha) >= power:
            n, run = (m, 1) if run == 0 else (n, run + 1)
            if run > window(n):
                return n, FISHER
        else:
            run = 0
    raise AssertionError("unreachable")


def detectable_rates(
    n: int, p_baseline: float, power: float = 0.8, alpha: float = 0.05
) -> tuple[float | None, float | None, str]:
    """(below, above, test): the rates nearest to p_baseline, on either side, that n seeds per
    cell tell from it with this power; None where no rate on that side does (at small n no
    table is significant at all). Found as the first crossing on a 1/1000 grid of rates,
    refined by bisection to 1e-9."""
    _check(n, (p_baseline,), power, alpha)
    if n > EXACT_MAX_N:

        def power_of(p):
            return np.array([normal_power(n, p_baseline, q, alpha) for q in np.atleast_1d(p)])

        test = NORMAL
    else:
        curve = _fisher_curve(n, p_baseline, alpha)

        def power_of(p):
            return curve(np.atleast_1d(p))

        test = FISHER

    def nearest(end: float) -> float | None:
        if end == p_baseline:
            return None
        grid = np.linspace(p_baseline, end, _GRID + 1)
        reached = np.flatnonzero(power_of(grid) >= power)
        if not len(reached):
            return None
        if reached[0] == 0:  # a target below the test's size: the baseline itself "reaches" it
            return float(p_baseline)
        near, far = grid[reached[0] - 1], grid[reached[0]]
        while abs(far - near) > 1e-9:
            mid = (near + far) / 2
            near, far = (near, mid) if power_of(mid)[0] >= power else (mid, far)
        return float(far)

    return nearest(0.0), nearest(1.0), test
