"""Hinge Kantorovich-Rubinstein (HKR) loss for learning a signed distance with a 1-Lipschitz net."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["hkr_loss"]


def hkr_loss(f_positive: Tensor, f_negative: Tensor, margin: float, lam: float) -> Tensor:
    """HKR loss, positives (normal data, y=+1) and negatives (y=-1) averaged separately and added.

    Per sample ``relu(m - y f) + (1/lambda) (-y f)``, the reference code's form of
    ``lambda * max(0, m - y f) - y f`` divided by lambda. Its minimiser over 1-Lipschitz functions
    is the signed distance to the support boundary shifted by the margin (Béthune et al., 2023).

    Example:
        >>> float(hkr_loss(torch.tensor([1.0]), torch.tensor([-1.0]), margin=0.5, lam=10.0))
        -0.2
    """
    positive = torch.relu(margin - f_positive) - f_positive / lam
    negative = torch.relu(margin + f_negative) + f_negative / lam
    return positive.mean() + negative.mean()
