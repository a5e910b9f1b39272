"""The straightforward centre search, kept only as the reference for benchmarks/smoothing_speed.py.

For each sample, its distances to every sample, then their median: n Python iterations of O(n D).
"""

from __future__ import annotations

import torch
from torch import Tensor


def loop_median_distances(points: Tensor) -> Tensor:
    """Median l2 distance from each point to all points (the ceil(n/2)-th smallest), one point at a time."""
    n = points.shape[0]
    k = (n + 1) // 2
    medians = torch.empty(n, dtype=points.dtype)
    for i in range(n):
        distances = (points - points[i]).norm(dim=1)
        medians[i] = distances.kthvalue(k).values
    return medians
