"""Confidence bounds behind the smoothing certificates.

Every function here is a finite-sample statement that holds with probability at least
``1 - alpha`` over the noise draws, for any distribution of the smoothed quantity (continuous or
with atoms), and is checked in ``tests/test_certify_statistics.py`` by coverage experiments.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta, binom

__all__ = [
    "check_sigma",
    "clopper_pearson_lower",
    "dkw_margin",
    "minimum_samples_for_decision",
    "order_statistic_indices",
]


def check_sigma(sigma: float) -> None:
    """Every certifier's noise level must be a positive standard deviation."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}: it is the std of the Gaussian noise.")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}.")


def clopper_pearson_lower(successes: np.ndarray | int, n: int, alpha: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound on a binomial probability.

    ``P(p >= bound) >= 1 - alpha``; the bound is ``Beta.ppf(alpha; k, n - k + 1)`` and 0 for k = 0.

    Example:
        >>> float(clopper_pearson_lower(10, 10, 0.001)) == 0.001 ** (1 / 10)
        True
    """
    _check_alpha(alpha)
    k = np.asarray(successes, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError(f"successes must lie in [0, n={n}].")
    with np.errstate(invalid="ignore"):
        bound = beta.ppf(alpha, k, n - k + 1)
    return np.where(k == 0, 0.0, bound)


def minimum_samples_for_decision(alpha: float) -> int:
    """The smallest n for which a unanimous vote can certify (``alpha^(1/n) > 1/2``)."""
    _check_alpha(alpha)
    return math.floor(math.log(alpha) / math.log(0.5)) + 1


def dkw_margin(n: int, alpha: float) -> float:
    """Dvoretzky-Kiefer-Wolfowitz-Massart band: ``P(sup_t |F_n(t) - F(t)| > d) <= alpha``.

    ``d = sqrt(ln(2 / alpha) / (2 n))``; one band makes every percentile valid at once.
    """
    _check_alpha(alpha)
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def order_statistic_indices(
    n: int, p_lower: np.ndarray, p_upper: np.ndarray, alpha: float, simultaneous: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """0-based indices into n sorted samples that bound the ``p_lower``- and ``p_upper``-quantiles.

    With ``X_(1) <= ... <= X_(n)`` the sorted samples and ``h_q`` the true q-quantile
    (``inf {t : F(t) >= q}``), the returned ``lo, hi`` satisfy, each with probability >= 1 - alpha,
    ``X[lo] <= h_{p_lower}`` and ``X[hi] >= h_{p_upper}``. An index of -1 means "no order
    statistic is low enough" (use -inf); an index of n means "none is high enough" (use +inf).

    Binomial (default, one statement per quantile): ``X_(q) >= h_p`` iff fewer than q samples fall
    below ``h_p``, a count that is stochastically at most Binomial(n, p); so the upper index is the
    smallest q with ``BinomCDF(q - 1; n, p) >= 1 - alpha``, and symmetrically the lower index is
    the largest q with ``BinomCDF(q - 1; n, p) <= alpha``.

    Simultaneous (DKW): on the event ``sup |F_n - F| <= d`` (probability >= 1 - alpha),
    ``h_q <= X_(ceil((q + d) n))`` and ``h_q >= X_(floor((q - d) n))`` for every q at once.
    """
    _check_alpha(alpha)
    p_lower = np.atleast_1d(np.asarray(p_lower, dtype=np.float64))
    p_upper = np.atleast_1d(np.asarray(p_upper, dtype=np.float64))
    if simultaneous:
        d = dkw_margin(n, alpha)
        hi = np.ceil(np.round((p_upper + d) * n, 9)).astype(np.int64)  # 1-based
        lo = np.floor(np.round((p_lower - d) * n, 9)).astype(np.int64)
        hi = np.where(hi > n, n + 1, np.maximum(hi, 1))
        lo = np.where(lo < 1, 0, np.minimum(lo, n))
        return lo - 1, hi - 1
    counts = np.arange(n + 1)
    lo = np.empty(p_lower.shape, dtype=np.int64)
    hi = np.empty(p_upper.shape, dtype=np.int64)
    for i, p in enumerate(p_upper):
        cdf = binom.cdf(counts, n, p)
        hi[i] = int(np.searchsorted(cdf, 1.0 - alpha, side="left"))  # q - 1 with cdf[q - 1] >= 1 - alpha
    for i, p in enumerate(p_lower):
        cdf = binom.cdf(counts, n, p)
        lo[i] = int(np.searchsorted(cdf, alpha, side="right")) - 1  # largest q - 1 with cdf <= alpha
    return lo, np.minimum(hi, n)
