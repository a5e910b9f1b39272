"""Encoders, decoders and latent maps of the compact-latent VAE (pure torch)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lightning_occ.nn.activations import GroupSort
from lightning_occ.nn.orthogonal import OrthogonalLinear, spectral_norm

__all__ = ["LipschitzEncoder", "MLPDecoder", "MLPEncoder", "inverse_stereographic"]


def inverse_stereographic(z: Tensor) -> Tensor:
    """R^d -> S^d in R^(d+1): ``((2 z, |z|^2 - 1) / (|z|^2 + 1))``; infinity goes to the north pole.

    Its Jacobian is ``2 / (1 + |z|^2)`` times an isometry, so the map is 2-Lipschitz.

    Example:
        >>> inverse_stereographic(torch.zeros(1, 2))
        tensor([[ 0.,  0., -1.]])
    """
    squared = z.pow(2).sum(1, keepdim=True)
    return torch.cat([2 * z, squared - 1], dim=1) / (squared + 1)


class MLPEncoder(nn.Module):
    """Plain encoder: ``x -> (mean, log_variance)`` with ReLU hidden layers."""

    def __init__(self, in_features: int, hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mean, self.log_variance = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x.flatten(1))
        return self.mean(h), self.log_variance(h)

    def lipschitz_bound(self) -> float | None:
        return None


class LipschitzEncoder(nn.Module):
    """Encoder whose mean map is ``L``-Lipschitz: orthogonal layers, GroupSort2, then a factor L.

    The log-variance head is unconstrained: it shapes training, never the score.
    """

    def __init__(self, in_features: int, hidden: int, latent_dim: int, lipschitz: float) -> None:
        super().__init__()
        if lipschitz <= 0:
            raise ValueError(f"The encoder's Lipschitz constant L must be > 0, got {lipschitz}.")
        if hidden % 2:
            raise ValueError(f"hidden must be even for GroupSort2, got {hidden}.")
        self.scale = float(lipschitz)
        self.body = nn.Sequential(
            OrthogonalLinear(in_features, hidden), GroupSort(2), OrthogonalLinear(hidden, hidden), GroupSort(2)
        )
        self.mean = OrthogonalLinear(hidden, latent_dim)
        self.log_variance = nn.Linear(hidden, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x.flatten(1))
        return self.scale * self.mean(h), self.log_variance(h)

    @torch.no_grad()
    def project_(self, tol: float = 1e-6, max_iter: int = 1) -> None:
        for layer in (*self.body, self.mean):
            if isinstance(layer, OrthogonalLinear):
                layer.project_(tol, max_iter)

    def lipschitz_bound(self) -> float:
        """Proven constant of the mean map: ``L * prod ||W_i||_2`` (exact SVDs; GroupSort is 1-Lipschitz)."""
        layers = [m for m in (*self.body, self.mean) if isinstance(m, OrthogonalLinear)]
        return self.scale * math.prod(spectral_norm(layer.weight) for layer in layers)


class MLPDecoder(nn.Module):
    """``z -> x_hat`` of the given output shape, ReLU hidden layers, linear output."""

    def __init__(self, latent_dim: int, hidden: int, output_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.output_shape = output_shape
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(output_shape)),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).reshape(z.shape[0], *self.output_shape)
