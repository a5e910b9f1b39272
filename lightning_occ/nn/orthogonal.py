"""Dense layers whose weights are kept orthogonal by re-projection, with exact spectral norms.

Why not ``torch.nn.utils.parametrizations.orthogonal``: it re-orthogonalises (differentiably)
inside every forward pass, which dominates the training time of an OCSDF step (several forward
passes per step for the negative samples). Here the weight is an ordinary parameter used as is in
the forward pass, and :meth:`OrthogonalLinear.project_` pulls it back onto the orthogonal
(Stiefel) manifold after each optimiser step with a few warm-started Björck iterations. The
Lipschitz constant claimed by a network is never taken on trust from the projection: it is
computed from the exact spectral norms of the weights as they are (:func:`spectral_norm`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FrobeniusLinear", "OrthogonalLinear", "bjorck_orthonormalize_", "spectral_norm"]


def spectral_norm(weight: Tensor) -> float:
    """Exact largest singular value of a matrix (SVD in float64), an upper bound of ||W x|| / ||x||."""
    return float(torch.linalg.matrix_norm(weight.detach().to(torch.float64), ord=2))


@torch.no_grad()
def bjorck_orthonormalize_(weight: Tensor, tol: float = 1e-7, max_iter: int = 50) -> int:
    """Project ``weight`` in place onto the nearest matrix with orthonormal rows or columns.

    Björck-Bowie iteration ``W <- W (3/2 I - 1/2 W^T W)`` (on the smaller Gram matrix), which
    converges quadratically to the orthogonal polar factor when ``||W||_2 < sqrt(3)``; the matrix
    is rescaled first when a cheap upper bound of its norm is too large. Started from a matrix that
    is already nearly orthogonal (the weights after one optimiser step), it needs 1-3 iterations.

    Returns:
        The number of iterations run.
    """
    tall = weight.shape[0] >= weight.shape[1]
    w = weight if tall else weight.T
    eye = torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
    norm_bound = torch.sqrt(w.abs().sum(0).max() * w.abs().sum(1).max())  # sqrt(||W||_1 ||W||_inf)
    if norm_bound > 1.5:
        w.div_(norm_bound)
    for iteration in range(max_iter):
        gram = w.T @ w
        if torch.linalg.matrix_norm(gram - eye, ord="fro") < tol:
            return iteration
        w.copy_(w @ (1.5 * eye - 0.5 * gram))
    return max_iter


class OrthogonalLinear(nn.Linear):
    """Linear layer with an orthogonal weight (orthonormal rows or columns): 1-Lipschitz.

    The weight starts orthogonal and is re-projected by :meth:`project_`; call it after every
    optimiser step (``LipschitzMLP.project_`` and the OCSDF module do).

    Example:
        >>> layer = OrthogonalLinear(3, 8)
        >>> abs(spectral_norm(layer.weight) - 1) < 1e-5
        True
    """

    def reset_parameters(self) -> None:
        nn.init.orthogonal_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def project_(self) -> None:
        bjorck_orthonormalize_(self.weight.data)

    def lipschitz_bound(self) -> float:
        return spectral_norm(self.weight)


class FrobeniusLinear(nn.Linear):
    """Linear layer whose weight is scaled to Frobenius norm 1 (>= its spectral norm): 1-Lipschitz.

    For one output this is exactly a unit-norm gradient, the output layer of an OCSDF network.
    """

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.project_()

    @torch.no_grad()
    def project_(self) -> None:
        self.weight.div_(torch.linalg.matrix_norm(self.weight, ord="fro"))

    def lipschitz_bound(self) -> float:
        return spectral_norm(self.weight)
