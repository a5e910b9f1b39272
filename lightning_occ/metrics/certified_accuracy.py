"""CertifiedAccuracy: the share of decisions that are correct and cannot be flipped within eps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from lightning_occ.metrics.decisions import certified_decision_radius
from lightning_occ.metrics.functional import _as_epsilons, check_binary_target

__all__ = ["CertifiedAccuracy"]


class CertifiedAccuracy(Metric):
    """Certified accuracy of the decisions ``score > threshold`` at several radii, exact under DDP.

    A sample counts at radius eps when its decision is correct and ``|score - t| > L eps + 2 e``
    (see :mod:`lightning_occ.metrics.decisions`). States are per-radius counts summed across
    processes, so a multi-process run gives the single-process number.

    Args:
        epsilons: the radii (l2, model input units); 0 gives the plain accuracy.
        threshold: the decision threshold.
        lipschitz: a proven Lipschitz constant of the score.

    Example:
        >>> metric = CertifiedAccuracy([0.0, 0.1], threshold=0.5, lipschitz=1.0)
        >>> metric.update(torch.tensor([0.1, 0.45, 0.9, 0.2]), torch.tensor([0, 0, 1, 1]))
        >>> metric.compute()
        tensor([0.7500, 0.5000], dtype=torch.float64)
    """

    certified: Tensor
    total: Tensor

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, epsilons: Sequence[float], threshold: float, lipschitz: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilons = _as_epsilons(epsilons).tolist()
        self.threshold, self.lipschitz = float(threshold), float(lipschitz)
        self.add_state("certified", default=torch.zeros(len(self.epsilons), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, scores: Tensor, target: Tensor, score_error: Tensor | None = None) -> None:
        """Add a batch of scores (B,), labels (B,) and optionally each score's rounding bound (B,)."""
        check_binary_target(target)
        correct = (scores.flatten() > self.threshold) == target.flatten().bool()
        radius = certified_decision_radius(scores.flatten(), self.threshold, self.lipschitz, score_error)
        counts = [(correct & (radius > eps)).sum() if eps > 0 else correct.sum() for eps in self.epsilons]
        self.certified += torch.stack(counts).to(self.certified)
        self.total += correct.numel()

    def compute(self) -> Tensor:
        if float(self.total) == 0:
            raise ValueError("CertifiedAccuracy.compute() was called before any update().")
        return self.certified / self.total
