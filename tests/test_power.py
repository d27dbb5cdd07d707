"""Seed planning for Fisher's exact test: exact power against independent enumerations (scipy's
fisher_exact table by table; the 'no more probable than observed' sum by margin) and a
simulation; the normal fallback against statsmodels; `gansweep seeds-needed` end to end."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from gansweep.cli import main
from gansweep.power import (
    EXACT_MAX_N,
    FISHER,
    NORMAL,
    detectable_rates,
    fisher_power,
    fisher_reject,
    normal_power,
    normal_seeds_needed,
    power_at,
    seeds_needed,
)

# The issue's contrasts: (baseline, other, seeds per cell for 80 % power at α = 0.05).
CONTRASTS = [
    (0.465, 0.87, 24),
    (0.22, 0.45, 73),
    (0.465, 0.79, 40),
    (0.295, 0.02, 31),
    (0.5, 0.6, 404),
    (0.0, 1.0, 4),
]


def scipy_reject(n, alpha):
    """Every table through scipy.stats.fisher_exact: the test compare_rates runs."""
    return np.array(
        [
            [
                stats.fisher_exact([[a, n - a], [b, n - b]], alternative="two-sided").pvalue < alpha
                for b in range(n + 1)
            ]
            for a in range(n + 1)
        ]
    )


def margin_reject(n, alpha):
    """The two-sided Fisher p as R's fisher.test defines it, per margin t: the sum of the
    hypergeometric probabilities no larger than the observed one (relative tolerance 1e-7);
    no use of the symmetry gansweep.power relies on."""
    reject = np.zeros((n + 1, n + 1), bool)
    for t in range(2 * n + 1):
        x1 = np.arange(max(0, t - n), min(n, t) + 1)
        pmf = stats.hypergeom.pmf(x1, 2 * n, n, t)
        p = np.array([pmf[pmf <= q * (1 + 1e-7)].sum() for q in pmf])
        reject[x1, t - x1] = p < alpha
    return reject


def power_of(reject, n, p1, p2):
    x = np.arange(n + 1)
    return float(stats.binom.pmf(x, n, p1) @ reject @ stats.binom.pmf(x, n, p2))


@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_rejection_matrix_is_fisher_exact_table_by_table(alpha):
    for n in [*range(1, 13), 25]:
        assert (fisher_reject(n, alpha) == scipy_reject(n, alpha)).all(), n
    for n in (60, 201):
        assert (fisher_reject(n, alpha) == margin_reject(n, alpha)).all(), n


def test_paper_contrast_power():
    # The issue's figures: 16 seeds per cell give 0.556 and 20 give 0.724 (the normal
    # approximation said 0.724 and 0.815).
    for n, expected in ((16, 0.556), (20, 0.724)):
        reference = power_of(scipy_reject(n, 0.05), n, 0.465, 0.87)
        assert fisher_power(n, 0.465, 0.87) == pytest.approx(reference, rel=1e-12)
        assert round(reference, 3) == expected
    assert power_at(16, 0.465, 0.87) == (pytest.approx(0.5561, abs=1e-4), FISHER)


@pytest.mark.parametrize("p0, p1, needed", CONTRASTS)
def test_seeds_needed_for_the_issue_contrasts(p0, p1, needed):
    assert seeds_needed(p0, p1) == (needed, FISHER)
    assert seeds_needed(p1, p0) == (needed, FISHER)
    # Independent enumeration on either side of the answer.
    below, at = (power_of(margin_reject(m, 0.05), m, p0, p1) for m in (needed - 1, needed))
    assert below < 0.8 <= at


@pytest.mark.parametrize("p0, p1, needed", [c for c in CONTRASTS if c[2] < 100])
def test_power_stays_above_the_target_well_past_the_window(p0, p1, needed):
    # The window (a quarter again as many seeds) is not hiding a later dip: none up to 2n.
    assert all(fisher_power(m, p0, p1) >= 0.8 for m in range(needed, 2 * needed + 1))


@pytest.mark.parametrize("p0, p1, first, needed", [(0.05, 0.9, 5, 7), (0.35, 0.55, 102, 108)])
def test_needed_is_where_power_stays_at_the_target_not_where_it_first_gets_there(
    p0, p1, first, needed
):
    # Exact power is not monotone in n: it reaches 0.8 at `first`, dips below, and stays
    # from `needed` on.
    exact = {m: power_of(margin_reject(m, 0.05), m, p0, p1) for m in range(first - 1, needed + 1)}
    assert exact[first - 1] < 0.8 <= exact[first] and exact[needed - 1] < 0.8 <= exact[needed]
    assert seeds_needed(p0, p1) == (needed, FISHER)


def test_simulated_studies_agree_with_exact_power():
    # 4,000 simulated studies of 16 seeds per cell at 46.5 % vs 87 %, each run through
    # scipy's fisher_exact: the share significant is 0.556 (SE 0.008), not the old 0.724.
    rng = np.random.default_rng(2024)
    x1 = rng.binomial(16, 0.465, 4000)
    x2 = rng.binomial(16, 0.87, 4000)
    p = {
        (a, b): stats.fisher_exact([[a, 16 - a], [b, 16 - b]]).pvalue
        for a, b in set(zip(x1, x2, strict=True))
    }
    share = np.mean([p[a, b] < 0.05 for a, b in zip(x1, x2, strict=True)])
    assert abs(share - fisher_power(16, 0.465, 0.87)) < 0.025


def test_detectable_rates_reach_the_target_exactly():
    lo, hi, test = detectable_rates(20, 0.465)
    assert test == FISHER and 0 < lo < 0.465 < hi < 1
    for rate, nearer in ((lo, lo + 1e-3), (hi, hi - 1e-3)):
        assert fisher_power(20, 0.465, rate) == pytest.approx(0.8, abs=1e-6)
        assert fisher_power(20, 0.465, nearer) < 0.8
    # The normal approximation's detectable rate has less than 0.8 under Fisher.
    h = NormalIndPower().solve_power(None, nobs1=20, alpha=0.05, power=0.8, ratio=1.0)
    normal_hi = math.sin(math.asin(math.sqrt(0.465)) + h / 2) ** 2
    assert fisher_power(20, 0.465, normal_hi) < 0.78


def test_no_detectable_rate_at_a_handful_of_seeds():
    for n in range(1, 6):
        assert detectable_rates(n, 0.465) == (None, None, FISHER)
    # From a rate of 0 nothing lies below; 6 seeds tell 0 from rates near 1.
    lo, hi, _ = detectable_rates(6, 0.0)
    assert lo is None and 0.5 < hi < 1 and fisher_power(6, 0.0, hi) == pytest.approx(0.8, abs=1e-6)


def test_normal_fallback_matches_statsmodels_and_is_labelled():
    # Cohen (1988) Table 6.4.1: h = 0.5, two-sided α = .05, power .80 → n = 63 per group.
    p1 = math.sin(math.asin(math.sqrt(0.5)) + 0.25) ** 2
    assert normal_seeds_needed(0.5, p1) == 63
    h = proportion_effectsize(0.51, 0.5)
    reference = NormalIndPower().power(h, nobs1=2000, alpha=0.05, ratio=1.0)
    assert normal_power(2000, 0.5, 0.51) == pytest.approx(reference, rel=1e-9)
    assert power_at(EXACT_MAX_N + 1, 0.5, 0.51)[1] == NORMAL
    assert power_at(EXACT_MAX_N, 0.5, 0.51)[1] == FISHER
    assert seeds_needed(0.5, 0.51) == (normal_seeds_needed(0.5, 0.51), NORMAL)
    lo, hi, test = detectable_rates(2000, 0.5)
    assert test == NORMAL and normal_power(2000, 0.5, hi) == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: seeds_needed(0.3, 0.3), "equal"),
        (lambda: seeds_needed(0.3, 1.5), r"\[0, 1\]"),
        (lambda: seeds_needed(0.3, 0.5, power=1.5), r"\(0, 1\)"),
        (lambda: power_at(0, 0.3, 0.5), "≥ 1"),
        (lambda: detectable_rates(-2, 0.3), "≥ 1"),
    ],
)
def test_bad_planning_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- the command
def run(capsys, *argv):
    code = 0
    try:
        main(["seeds-needed", *argv])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_seeds_needed_command_answers_for_fisher(capsys):
    code, out, _ = run(capsys, "--rates", "0.465", "0.87", "--seeds", "16", "3")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("24 seeds per cell")
    assert lines[1].startswith("16 seeds per cell give power 0.556;")
    assert lines[2].startswith("3 seeds per cell give power 0.000; no rate is told from 0.465")
    assert all(
        "test: fisher_exact, two-sided alpha 0.05 per comparison, before Holm" in line
        for line in lines
    )
    assert "nan" not in out.lower()
    code, out, _ = run(capsys, "--rates", "0", "1")
    assert code == 0 and out.startswith("4 seeds per cell")
    code, out, _ = run(capsys, "--rates", "0.5", "0.51")
    assert code == 0 and "test: normal_approx" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rates", "1.5", "2"], "argument --rates: 1.5 is not in [0, 1]"),
        (["--rates", "0.3", "0.3"], "argument --rates: the two rates are equal (0.3)"),
        (["--rates", "x", "0.3"], "argument --rates: 'x' is not a number"),
        (["--power", "1.5"], "argument --power: 1.5 is not in (0, 1)"),
        (["--alpha", "0"], "argument --alpha: 0 is not in (0, 1)"),
        (["--seeds", "0"], "argument --seeds: 0 is not greater than 0"),
        (["--seeds", "-3"], "argument --seeds: -3 is not greater than 0"),
        (["--effect-size", "0"], "argument --effect-size: 0 is not greater than 0"),
    ],
)
def test_seeds_needed_command_refuses_bad_arguments(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith(f"gansweep seeds-needed: error: {message}")
    assert "Traceback" not in err
