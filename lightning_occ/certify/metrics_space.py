"""Output-space distances for center smoothing, computed in memory-bounded chunks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["Distance", "angular_distance", "chunked_median_distances", "l2_distance", "resolve_distance"]

Distance = Callable[[Tensor, Tensor], Tensor]
"""``distance(a, b)`` with a (m, D), b (n, D) -> (m, n); must be a metric (triangle inequality)."""


def l2_distance(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances between the rows of a and b."""
    return torch.cdist(a, b).clamp_min_(0.0)


def angular_distance(a: Tensor, b: Tensor) -> Tensor:
    """The angle (radians) between rows: a metric on directions, unlike ``1 - cosine``.

    Computed as ``2 asin(chord / 2)`` from the chord between unit vectors, which stays accurate for
    small angles where ``arccos`` of a cosine near 1 loses most of its digits.
    """
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    return 2 * torch.asin((torch.cdist(a, b) / 2).clamp_(0.0, 1.0))


def resolve_distance(metric: str | Distance) -> Distance:
    """``"l2"``, ``"angular"`` (alias ``"cosine"``) or a user callable."""
    if callable(metric):
        return metric
    named = {"l2": l2_distance, "angular": angular_distance, "cosine": angular_distance}
    if metric not in named:
        raise ValueError(f"Unknown metric {metric!r}: use one of {sorted(named)} or a callable (a, b) -> distances.")
    return named[metric]


def checked_distances(distance: Distance, a: Tensor, b: Tensor) -> Tensor:
    """Call ``distance`` and reject outputs no metric can produce."""
    d = distance(a, b)
    if d.shape != (a.shape[0], b.shape[0]):
        raise ValueError(f"The metric must return an ({a.shape[0]}, {b.shape[0]}) matrix, got {tuple(d.shape)}.")
    if torch.isnan(d).any() or (d < 0).any():
        raise ValueError(
            "The metric returned negative or NaN distances; center smoothing needs a true metric "
            "(non-negative, symmetric, triangle inequality), e.g. 'l2' or 'angular' instead of a similarity."
        )
    return d


def chunked_median_distances(
    distance: Distance, candidates: Tensor, points: Tensor, max_elements: int = 2**24
) -> Tensor:
    """Median distance from each candidate to all points, never holding more than ``max_elements`` distances.

    Args:
        distance: the metric.
        candidates: (m, D).
        points: (n, D).
        max_elements: memory bound on one block of the (m, n) distance matrix.

    Returns:
        (m,) lower medians (the ``ceil(n / 2)``-th smallest distance).
    """
    n = points.shape[0]
    rows = max(1, max_elements // max(n, 1))
    k = (n + 1) // 2
    medians = [
        checked_distances(distance, candidates[start : start + rows], points).kthvalue(k, dim=1).values
        for start in range(0, candidates.shape[0], rows)
    ]
    return torch.cat(medians)
