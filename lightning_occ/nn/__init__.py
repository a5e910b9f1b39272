"""Pure-torch building blocks: Lipschitz layers, activations, losses, negative samplers."""

from lightning_occ.nn.activations import FullSort, GroupSort
from lightning_occ.nn.hkr import hkr_loss
from lightning_occ.nn.lipschitz_mlp import LipschitzMLP
from lightning_occ.nn.negatives import initial_negatives, newton_raphson_negatives
from lightning_occ.nn.orthogonal import FrobeniusLinear, OrthogonalLinear, bjorck_orthonormalize_, spectral_norm

__all__ = [
    "FrobeniusLinear",
    "FullSort",
    "GroupSort",
    "LipschitzMLP",
    "OrthogonalLinear",
    "bjorck_orthonormalize_",
    "hkr_loss",
    "initial_negatives",
    "newton_raphson_negatives",
    "spectral_norm",
]
