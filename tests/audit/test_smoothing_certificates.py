"""Smoothing certificates in the audit: coverage against a closed form, and no attack below the certified AUROC."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest

from lightning_occ.certify import PercentileSmoothing, SmoothedDetector
from lightning_occ.data import TabularDataModule
from lightning_occ.metrics.functional import certified_auroc, exact_auroc
from lightning_occ.models import KNNDetector


@pytest.mark.parametrize("simultaneous", [False, True])
def test_percentile_intervals_fail_no_more_often_than_alpha(simultaneous):
    """For s(x) = w.x the smoothed median is w.x, so the exact range over the eps-ball is w.x -+ eps ||w||.
    A two-sided failure (either side wrong, at any radius in simultaneous mode) must be rarer than alpha:
    a one-sided binomial test at level 1e-3 rejects "failure rate <= alpha" only when it is clearly above."""
    alpha, radii, trials = 0.1, [0.05, 0.2] if simultaneous else [0.2], 3000
    w = torch.tensor([0.6, -0.8])
    smoother = PercentileSmoothing(sigma=1.0, n=200, epsilons=radii, alpha=alpha, simultaneous=simultaneous, seed=1)
    x = torch.randn(trials, 2, generator=torch.Generator().manual_seed(0))
    certificate = smoother.certify(lambda z: z @ w, x)
    centre, reach = (x @ w).unsqueeze(1), torch.tensor(radii) * float(w.norm())
    failed = ((certificate.lower > centre - reach) | (certificate.upper < centre + reach)).any(1)
    rate = float(failed.float().mean())
    assert binomtest(int(failed.sum()), trials, alpha, alternative="greater").pvalue > 1e-3, rate
    assert rate > alpha / 20  # the bounds are not vacuous: a few failures at this alpha are expected


def test_no_attack_goes_below_the_smoothing_certified_auroc():
    """Attack the base kNN score within eps, evaluate the smoothed score there with fresh noise: the
    attacked AUROC of the smoothed detector stays above its certified AUROC."""
    datamodule = TabularDataModule("breast_cancer", seed=0)
    datamodule.setup()
    base = KNNDetector(k=5)
    base.fit_bank(datamodule.train_features())
    radii = [0.1, 0.25]
    settings = PercentileSmoothing(sigma=0.5, n=400, alpha=0.01)
    smoothed = SmoothedDetector(base, certifier=settings, epsilons=radii)
    x, target = datamodule.test_dataset.tensors[:2]
    certificate = smoothed.certifier.certify(base.score, x)
    fresh = PercentileSmoothing(sigma=0.5, n=400, alpha=0.01, epsilons=[0.0], seed=7)
    for k, eps in enumerate(smoothed.epsilons):
        if eps == 0:
            continue
        certified = certified_auroc(
            None, target, [eps], lower=certificate.lower[:, k : k + 1], upper=certificate.upper[:, k : k + 1]
        )
        attacked = fresh.certify(base.score, _attacked_inputs(base.score, x, target, eps)).score
        value = float(exact_auroc(attacked, target))
        assert float(certified[0]) <= value, (eps, float(certified[0]), value)


def _attacked_inputs(score, x, target, eps):
    """The inputs PGD moved to (the points, not only their scores)."""
    sign = torch.where(target.bool(), -1.0, 1.0).to(torch.float64)
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(20):
        with torch.enable_grad():
            (grad,) = torch.autograd.grad((score(x + delta) * sign).sum(), delta)
        with torch.no_grad():
            delta += 0.25 * eps * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
            delta *= (eps / delta.norm(dim=1, keepdim=True).clamp_min(1e-12)).clamp(max=1.0)
    return (x + delta).detach()
