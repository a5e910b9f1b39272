"""Randomized smoothing of the normal/anomaly decision (Cohen, Rosenfeld & Kolter, ICML 2019)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from scipy.stats import norm
from torch import Tensor

from lightning_occ.certify.sampling import noisy_outputs
from lightning_occ.certify.statistics import check_sigma, clopper_pearson_lower, minimum_samples_for_decision

__all__ = ["ABSTAIN", "DecisionCertificate", "RandomizedSmoothing"]

ABSTAIN = -1


@dataclass
class DecisionCertificate:
    """Smoothed decisions (1 anomaly, 0 normal, -1 abstain) and their certified l2 radii (0 when abstaining)."""

    decision: Tensor
    radius: Tensor
    p_lower: Tensor

    @property
    def abstain(self) -> Tensor:
        return self.decision == ABSTAIN

    def certified_accuracy(self, target: Tensor, epsilons: Sequence[float]) -> Tensor:
        """Share of samples whose smoothed decision is right and certified at each radius, shape (K,)."""
        right = self.decision.cpu() == target.cpu().long()
        return torch.stack([(right & (self.radius.cpu() >= eps)).double().mean() for eps in epsilons])


class RandomizedSmoothing:
    """Certify the decision ``score(x) > threshold`` of any detector.

    CERTIFY from Cohen et al.: ``n0`` noisy samples pick the majority decision; ``n`` fresh samples
    count how often it occurs (``n_A``); ``p_A`` is the one-sided Clopper-Pearson lower bound of its
    probability. If ``p_A <= 1/2`` the certifier abstains, otherwise the smoothed decision is constant
    within the l2 radius ``R = sigma * Phi^-1(p_A)`` with probability >= 1 - alpha.

    Args:
        sigma: noise standard deviation (input units).
        threshold: scores above it are anomalies.
        n0: selection samples.
        n: estimation samples.
        alpha: failure probability per sample.
        chunk_size: noisy inputs per forward pass.
        seed: same seed, same certificate.
        progress: show a progress bar.

    Example:
        >>> rs = RandomizedSmoothing(sigma=0.5, threshold=0.0, n0=10, n=1000)
        >>> cert = rs.certify(lambda z: z[:, 0], torch.tensor([[3.0, 0.0], [-3.0, 0.0]]))
        >>> cert.decision.tolist()
        [1, 0]
    """

    def __init__(
        self,
        sigma: float = 0.25,
        threshold: float = 0.0,
        n0: int = 100,
        n: int = 100_000,
        alpha: float = 0.001,
        chunk_size: int = 4096,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        check_sigma(sigma)
        needed = minimum_samples_for_decision(alpha)
        if n < needed or n0 < 1:
            raise ValueError(
                f"n={n} samples can never certify at alpha={alpha} (even a unanimous vote gives p_A <= 1/2): "
                f"use n >= {needed} (and n0 >= 1)."
            )
        self.sigma, self.threshold, self.n0, self.n, self.alpha = float(sigma), float(threshold), n0, n, alpha
        self.chunk_size, self.seed, self.progress = chunk_size, seed, progress

    def max_radius(self) -> float:
        """The largest radius n samples can certify (a unanimous vote)."""
        return float(self.sigma * norm.ppf(self.alpha ** (1.0 / self.n)))

    def _anomaly_votes(self, score_fn: Callable[[Tensor], Tensor], x: Tensor, n: int, seed: int) -> Tensor:
        scores = noisy_outputs(score_fn, x, n, self.sigma, self.chunk_size, seed, self.progress)
        return (scores > self.threshold).sum(dim=1).cpu()

    def certify(self, score_fn: Callable[[Tensor], Tensor], x: Tensor) -> DecisionCertificate:
        """Smoothed decision, certified radius and p_A lower bound for each input of ``x``."""
        selection = self._anomaly_votes(score_fn, x, self.n0, self.seed)
        top = (2 * selection > self.n0).long()
        anomaly_votes = self._anomaly_votes(score_fn, x, self.n, self.seed + 1)
        n_a = torch.where(top == 1, anomaly_votes, self.n - anomaly_votes).numpy()
        p_lower = torch.from_numpy(clopper_pearson_lower(n_a, self.n, self.alpha))
        certified = p_lower > 0.5
        radius = torch.where(certified, self.sigma * torch.from_numpy(norm.ppf(p_lower.numpy().clip(0.5, 1))), 0.0)
        decision = torch.where(certified, top, torch.full_like(top, ABSTAIN))
        return DecisionCertificate(decision, radius.float(), p_lower)
