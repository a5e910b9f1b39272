"""The certificate audit: no attack beats a certified AUROC, no estimated constant exceeds a bound,
and no pair of nearby inputs moves a computed score by more than the bound plus the rounding bound."""

from __future__ import annotations

import pytest
import torch

from lightning_occ.metrics.functional import certified_auroc
from tests.audit.probes import attacked_auroc, lipschitz_estimate, tiny_pair_excess

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane


def certified_curve(audited) -> list[float]:
    detector = audited.detector
    scores, error = detector.certified_scores(audited.x)
    values = certified_auroc(
        scores, audited.target, audited.radii, lipschitz=detector.lipschitz_bound, score_error=error
    )
    return values.tolist()


def test_no_attack_goes_below_the_certified_auroc(audited):
    score = audited.detector.attacked_score
    certified = certified_curve(audited)
    for eps, floor in zip(audited.radii, certified):
        attacked = attacked_auroc(score, audited.x, audited.target, eps, low=audited.low, high=audited.high)
        assert floor <= attacked + 1e-12, (eps, floor, attacked)


def test_estimated_lipschitz_constant_stays_below_the_proven_bound(audited):
    bound = audited.detector.lipschitz_bound
    points = audited.x[::4]
    estimate = lipschitz_estimate(audited.detector.attacked_score, points)
    assert 0 < estimate <= bound * (1 + 1e-6), (estimate, bound)


def test_tiny_pairs_around_training_points_respect_bound_plus_rounding(audited):
    centres = audited.bank_points if audited.bank_points is not None else audited.x[:64]
    excess = tiny_pair_excess(audited.detector.certified_scores, centres, audited.detector.lipschitz_bound)
    assert float(excess.max()) <= 0.0, float(excess.max())


def test_rounding_bounds_are_tiny_in_float64(audited):
    _, error = audited.detector.certified_scores(audited.x)
    assert error is not None and error.dtype == torch.float64
    assert 0 < float(error.max()) < 1e-9  # widening by 2e changes no reported figure
