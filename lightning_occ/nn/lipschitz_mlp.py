"""A 1-Lipschitz multilayer perceptron (pure torch): the OCSDF network for tabular data."""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor, nn

from lightning_occ.nn.activations import FullSort, GroupSort
from lightning_occ.nn.orthogonal import FrobeniusLinear, OrthogonalLinear
from lightning_occ.nn.projected import ProjectedNetwork

__all__ = ["LipschitzMLP"]


class LipschitzMLP(ProjectedNetwork):
    """Dense network ``R^d -> R`` whose l2 Lipschitz constant is at most the product of its layers'.

    Hidden layers are :class:`OrthogonalLinear` followed by a sorting activation, the output layer
    is :class:`FrobeniusLinear`. With orthogonal weights every layer is gradient-norm preserving,
    which is what lets the network fit a signed distance function (gradient norm 1).

    Args:
        in_features: input dimension d.
        width: hidden width.
        depth: number of hidden layers.
        activation: ``"fullsort"`` or ``"groupsort2"``.

    Example:
        >>> import torch
        >>> net = LipschitzMLP(in_features=3, width=16, depth=2)
        >>> net(torch.zeros(4, 3)).shape
        torch.Size([4])
        >>> net.lipschitz_bound() <= 1 + 1e-5
        True
    """

    constrained_types = (OrthogonalLinear, FrobeniusLinear)

    def __init__(self, in_features: int, width: int = 512, depth: int = 4, activation: str = "fullsort") -> None:
        super().__init__()
        activations: dict[str, Callable[[], nn.Module]] = {"fullsort": FullSort, "groupsort2": lambda: GroupSort(2)}
        if activation not in activations:
            raise ValueError(f"Unknown activation {activation!r}; choose one of {sorted(activations)}.")
        if in_features < 1 or width < 1 or depth < 1:
            raise ValueError(f"in_features, width and depth must be >= 1, got {in_features}, {width}, {depth}.")
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [OrthogonalLinear(in_features if i == 0 else width, width), activations[activation]()]
        layers.append(FrobeniusLinear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x.flatten(1)).squeeze(1)

    def lipschitz_bound(self) -> float:
        """Proven l2 Lipschitz constant of ``forward``.

        Proof: ``forward`` is the composition ``W_{n} o s o W_{n-1} o ... o s o W_1`` of affine maps
        and sorting activations. A sorting activation is 1-Lipschitz (it is continuous and on each
        region where the order is fixed it is a permutation, an isometry). An affine map
        ``x -> W x + b`` is ``||W||_2``-Lipschitz. Lipschitz constants multiply under composition,
        so ``L <= prod_i ||W_i||_2``, each spectral norm computed exactly by SVD from the current
        weights; no assumption that the projection succeeded is needed.
        """
        return math.prod(layer.lipschitz_bound() for layer in self.constrained_layers())
