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
def bjorck_orthonormalize_(weight: Tensor, tol: float = 1e-6, max_iter: int = 30) -> int:
    """Project ``weight`` in place onto the nearest matrix with orthonormal rows or columns.

    Björck-Bowie iteration ``W <- W (3/2 I - 1/2 W^T W)`` (on the smaller Gram matrix), which
    converges quadratically to the orthogonal polar factor when ``||W||_2 < sqrt(3)``; the matrix
    is rescaled first when its estimated norm is too close to that limit. Started from a matrix that
    is already nearly orthogonal (the weights after one optimiser step), it needs 1-3 iterations.
    It stops when ``max |W^T W - I| < tol``, or once that deviation is small and an iteration no
    longer halves it (the floating-point floor).

    Returns:
        The number of update iterations run.
    """
    tall = weight.shape[0] >= weight.shape[1]
    w = weight if tall else weight.T
    eye = torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
    gram = w.T @ w
    # The iteration converges for sigma_max < sqrt(3). Estimate sigma_max^2 (power iteration on the
    # Gram matrix, with a safety factor) and shrink W when it may be outside. This only steers
    # convergence: certified bounds are always computed from exact norms (`spectral_norm`).
    vector = torch.linspace(1.0, 2.0, gram.shape[0], dtype=w.dtype, device=w.device)
    for _ in range(8):
        vector = gram @ vector
        vector = vector / vector.norm()
    largest = 1.1 * float(vector @ gram @ vector)
    if largest >= 2.5:
        w.div_(largest**0.5)
        gram.div_(largest)
    previous = float("inf")
    for iteration in range(max_iter):
        if iteration:
            gram = w.T @ w
        deviation = float((gram - eye).abs().max())
        if deviation < tol or (deviation < 1e-3 and deviation > 0.5 * previous):
            return iteration
        previous = deviation
        w.copy_(torch.addmm(w, w, gram, beta=1.5, alpha=-0.5))  # W (3/2 I - 1/2 W^T W)
    return max_iter


class OrthogonalLinear(nn.Linear):
    """Linear layer with an orthogonal weight (orthonormal rows or columns): 1-Lipschitz.

    The weight starts orthogonal and is re-projected by :meth:`project_`; call it after every
    optimiser step (``LipschitzMLP.project_`` and the OCSDF module do). After one small step a
    single warm-started Björck iteration brings the error from ``e`` to about ``1.5 e^2``, so
    ``max_iter=1`` suffices during training; iterate to convergence at the end.

    Example:
        >>> layer = OrthogonalLinear(3, 8)
        >>> abs(spectral_norm(layer.weight) - 1) < 1e-5
        True
    """

    def reset_parameters(self) -> None:
        nn.init.orthogonal_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def project_(self, tol: float = 1e-6, max_iter: int = 30) -> None:
        bjorck_orthonormalize_(self.weight.data, tol=tol, max_iter=max_iter)

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
    def project_(self, tol: float = 0.0, max_iter: int = 1) -> None:
        """Exact in one step; ``tol``/``max_iter`` exist for a common interface with OrthogonalLinear."""
        self.weight.div_(torch.linalg.matrix_norm(self.weight, ord="fro"))

    def lipschitz_bound(self) -> float:
        return spectral_norm(self.weight)
