"""Pure-torch building blocks: Lipschitz layers and networks, activations, nearest neighbours, rounding bounds."""

from lightning_occ.nn.activations import FullSort, GroupSort
from lightning_occ.nn.lipschitz_mlp import LipschitzMLP
from lightning_occ.nn.orthogonal import FrobeniusLinear, OrthogonalLinear, bjorck_orthonormalize_, spectral_norm

__all__ = [
    "FrobeniusLinear",
    "FullSort",
    "GroupSort",
    "LipschitzMLP",
    "OrthogonalLinear",
    "bjorck_orthonormalize_",
    "spectral_norm",
]
