"""Finite-sample statistics behind the smoothing certificates: closed forms and coverage."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from lightning_occ.certify.statistics import (
    clopper_pearson_lower,
    dkw_margin,
    minimum_samples_for_decision,
    order_statistic_indices,
)


def test_clopper_pearson_unanimous_vote_has_closed_form():
    for n in (10, 100, 1000):
        assert math.isclose(float(clopper_pearson_lower(n, n, 0.01)), 0.01 ** (1 / n), rel_tol=1e-10)
    assert float(clopper_pearson_lower(0, 50, 0.01)) == 0.0


def test_clopper_pearson_covers_the_true_probability():
    rng = np.random.default_rng(0)
    p, n, alpha, trials = 0.7, 60, 0.05, 20_000
    counts = rng.binomial(n, p, size=trials)
    failures = np.mean(clopper_pearson_lower(counts, n, alpha) > p)
    assert failures <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)


def test_minimum_samples_for_decision_is_the_first_n_that_can_certify():
    n = minimum_samples_for_decision(0.001)
    assert 0.001 ** (1 / n) > 0.5 >= 0.001 ** (1 / (n - 1))


@pytest.mark.parametrize("simultaneous", [False, True])
def test_order_statistic_bounds_cover_true_quantiles(simultaneous):
    rng = np.random.default_rng(1)
    n, alpha, trials = 200, 0.1, 4000
    levels = np.array([0.2, 0.5, 0.8])
    lo, hi = order_statistic_indices(n, levels, levels, alpha, simultaneous)
    assert (lo >= 0).all() and (hi < n).all()
    samples = np.sort(rng.standard_normal((trials, n)), axis=1)
    truth = norm.ppf(levels)
    low_fail = samples[:, lo] > truth
    high_fail = samples[:, hi] < truth
    slack = 3 * math.sqrt(alpha * (1 - alpha) / trials)
    if simultaneous:  # one event for every level and both sides
        assert np.mean(low_fail.any(1) | high_fail.any(1)) <= alpha + slack
    else:
        assert low_fail.mean(0).max() <= alpha + slack
        assert high_fail.mean(0).max() <= alpha + slack
        assert low_fail.mean(0).min() > alpha / 4  # tight, not trivially loose


def test_order_statistics_report_unbounded_when_n_is_too_small():
    lo, hi = order_statistic_indices(5, [0.01], [0.99], alpha=0.001)
    assert lo[0] == -1 and hi[0] == 5


def test_dkw_margin_formula_and_bad_alpha():
    assert math.isclose(dkw_margin(1000, 0.05), math.sqrt(math.log(40) / 2000))
    with pytest.raises(ValueError, match="alpha"):
        dkw_margin(10, 1.5)
