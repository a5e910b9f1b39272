"""Gradient-norm-preserving activations: GroupSort and FullSort.

Both only permute the entries of their input, so they are 1-Lipschitz in l2 (a permutation is an
isometry on each linear piece, and the sort is continuous) and preserve gradient norms.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FullSort", "GroupSort"]


class GroupSort(nn.Module):
    """Sort the features (dim 1) in consecutive groups of ``group_size``; GroupSort2 = MaxMin.

    Example:
        >>> GroupSort(2)(torch.tensor([[3.0, 1.0, -1.0, 2.0]]))
        tensor([[ 1.,  3., -1.,  2.]])
    """

    def __init__(self, group_size: int = 2) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}.")
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        if channels % self.group_size:
            raise ValueError(f"GroupSort({self.group_size}) needs a feature count divisible by it, got {channels}.")
        if self.group_size == 2:
            a, b = x.unflatten(1, (channels // 2, 2)).unbind(2)
            return torch.stack((torch.minimum(a, b), torch.maximum(a, b)), dim=2).flatten(1, 2)
        grouped = x.unflatten(1, (channels // self.group_size, self.group_size))
        return grouped.sort(dim=2).values.flatten(1, 2)


class FullSort(nn.Module):
    """Sort all features of each sample (GroupSort with one group).

    Example:
        >>> FullSort()(torch.tensor([[3.0, 1.0, 2.0]]))
        tensor([[1., 2., 3.]])
    """

    def forward(self, x: Tensor) -> Tensor:
        return x.sort(dim=1).values
