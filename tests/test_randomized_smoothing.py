"""Randomized smoothing of a decision: textbook radius, coverage, errors."""

import math

import pytest
import torch
from scipy.stats import norm

from lightning_occ.certify import RandomizedSmoothing


def test_constant_decision_gets_the_textbook_radius():
    sigma, n, alpha = 0.4, 5000, 0.001
    rs = RandomizedSmoothing(sigma=sigma, threshold=0.0, n0=50, n=n, alpha=alpha)
    cert = rs.certify(lambda z: torch.ones(z.shape[0]), torch.randn(3, 4))
    expected = sigma * norm.ppf(alpha ** (1 / n))
    assert cert.decision.tolist() == [1, 1, 1]
    assert torch.allclose(cert.radius.double(), torch.full((3,), expected, dtype=torch.float64), rtol=1e-5)
    assert math.isclose(rs.max_radius(), expected, rel_tol=1e-9)


def test_certified_radius_never_exceeds_the_true_one_more_often_than_alpha():
    sigma, alpha, points = 0.5, 0.05, 1000
    rs = RandomizedSmoothing(sigma=sigma, threshold=0.0, n0=20, n=200, alpha=alpha)
    x = torch.zeros(points, 2)
    x[:, 0] = torch.linspace(-1.5, 1.5, points)
    cert = rs.certify(lambda z: z[:, 0], x)
    true_radius = x[:, 0].abs()  # the smoothed decision of sign(x0) flips exactly at x0 = 0
    certified = ~cert.abstain
    assert certified.float().mean() > 0.5
    wrong = (cert.decision[certified] != (x[certified, 0] > 0).long()) | (
        cert.radius[certified] > true_radius[certified]
    )
    assert wrong.double().mean() <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / points)


def test_certified_accuracy_counts_right_decisions_within_their_radius():
    rs = RandomizedSmoothing(sigma=0.5, n0=20, n=500)
    x = torch.tensor([[2.0], [-2.0], [0.01]])
    cert = rs.certify(lambda z: z[:, 0], x)
    accuracy = cert.certified_accuracy(torch.tensor([1, 0, 1]), [0.0, 0.5, 5.0])
    assert accuracy[0] >= 2 / 3 and accuracy[2] == 0.0 and accuracy[1] <= accuracy[0]


def test_n_too_small_for_alpha_says_the_minimum():
    with pytest.raises(ValueError, match="use n >= 10"):
        RandomizedSmoothing(sigma=0.25, n=9, alpha=0.001)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        RandomizedSmoothing(sigma=-1.0)
