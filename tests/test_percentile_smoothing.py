"""Percentile smoothing: closed form for a linear score, coverage, determinism, errors."""

import math

import pytest
import torch
from scipy.stats import norm

from lightning_occ.certify import PercentileSmoothing

W = torch.tensor([0.6, -1.2, 0.4], dtype=torch.float64)


def linear_score(z):
    return z @ W


@pytest.mark.parametrize(("simultaneous", "tightness"), [(False, 0.1), (True, 0.15)])  # a DKW band is wider
def test_linear_score_bounds_contain_the_worst_case_and_are_tight(simultaneous, tightness):
    sigma, eps = 0.5, [0.0, 0.25, 0.5]
    smoother = PercentileSmoothing(sigma=sigma, n=10_000, epsilons=eps, alpha=0.001, simultaneous=simultaneous)
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cert = smoother.certify(linear_score, x)
    center, norm_w = x @ W, float(W.norm())
    assert torch.allclose(cert.score, center, atol=0.05 * sigma * norm_w)
    for k, radius in enumerate(eps):
        worst_low, worst_high = center - radius * norm_w, center + radius * norm_w
        assert (cert.lower[:, k] <= worst_low).all() and (cert.upper[:, k] >= worst_high).all()
        assert (worst_low - cert.lower[:, k]).max() <= tightness * sigma * norm_w
        assert (cert.upper[:, k] - worst_high).max() <= tightness * sigma * norm_w


@pytest.mark.parametrize("simultaneous", [False, True])
def test_percentile_bounds_fail_no_more_often_than_alpha(simultaneous):
    sigma, eps, alpha, points = 0.5, 0.3, 0.1, 3000
    smoother = PercentileSmoothing(
        sigma=sigma, n=100, epsilons=[eps], percentile=0.7, alpha=alpha, simultaneous=simultaneous
    )
    x = torch.randn(points, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    cert = smoother.certify(linear_score, x)
    z = norm.ppf(0.7)
    norm_w = float(W.norm())
    true_low = x @ W + sigma * norm_w * norm.ppf(norm.cdf(z - eps / sigma))
    true_high = x @ W + sigma * norm_w * norm.ppf(norm.cdf(z + eps / sigma))
    slack = 3 * math.sqrt(alpha * (1 - alpha) / points)
    assert (cert.lower[:, 0] > true_low).double().mean() <= alpha + slack
    assert (cert.upper[:, 0] < true_high).double().mean() <= alpha + slack


def test_same_seed_same_certificate_whatever_the_batch():
    smoother = PercentileSmoothing(sigma=0.3, n=500, epsilons=[0.1], chunk_size=64, seed=7)
    x = torch.randn(6, 3, dtype=torch.float64)
    full = smoother.certify(linear_score, x)
    part = smoother.certify(linear_score, x[3:])
    assert torch.equal(full.lower[3:], part.lower) and torch.equal(full.score[3:], part.score)
    other = PercentileSmoothing(sigma=0.3, n=500, epsilons=[0.1], chunk_size=64, seed=8).certify(linear_score, x)
    assert not torch.equal(full.score, other.score)


def test_sigma_must_be_positive():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        PercentileSmoothing(sigma=0.0)


@pytest.mark.parametrize(("simultaneous", "eps"), [(False, 1.0), (True, 0.5)])
def test_too_few_samples_names_the_minimum_n_and_the_reachable_radius(simultaneous, eps):
    settings = dict(sigma=0.25, epsilons=[eps], alpha=0.001, simultaneous=simultaneous)
    with pytest.raises(ValueError, match=r"Use n >= (\d+)") as info:
        PercentileSmoothing(n=100, **settings)
    needed = int(info.value.args[0].split("Use n >= ")[1].split(",")[0])
    assert "largest radius it can certify is" in str(info.value)
    PercentileSmoothing(n=needed, **settings)  # the advertised n works
    with pytest.raises(ValueError):
        PercentileSmoothing(n=needed - 1, **settings)


def test_n_too_small_even_for_radius_zero():
    with pytest.raises(ValueError, match="cannot even bound"):
        PercentileSmoothing(sigma=0.25, n=5, epsilons=[0.0], alpha=0.001)


def test_nan_scores_are_rejected():
    smoother = PercentileSmoothing(sigma=0.3, n=200, epsilons=[0.1])
    with pytest.raises(ValueError, match="NaN"):
        smoother.certify(lambda z: torch.full((z.shape[0],), float("nan")), torch.zeros(2, 3))


def test_radii_may_come_later_and_only_they_are_checked_against_n():
    settings = PercentileSmoothing(sigma=0.25, n=100, alpha=0.001)  # n=100 cannot reach 0.25, but no radius asked yet
    with pytest.raises(ValueError, match="no radii to certify"):
        settings.certify(lambda z: z.sum(1), torch.zeros(2, 3))
    certificate = settings.at_radii([0.05]).certify(lambda z: z.sum(1), torch.zeros(2, 3))
    assert certificate.epsilons == [0.05] and bool(torch.isfinite(certificate.lower).all())
    with pytest.raises(ValueError, match="Use n >= "):
        settings.at_radii([0.25])
