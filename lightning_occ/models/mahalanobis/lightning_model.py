"""Mahalanobis distance to the normal training data: a classical detector with a proven Lipschitz constant."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.covariance import LedoitWolf, ShrunkCovariance
from torch import Tensor, nn

from lightning_occ.core.card import MethodCard
from lightning_occ.core.fitted import FittedDetector
from lightning_occ.nn.rounding import gamma, matmul_unit_roundoff, unit_roundoff

__all__ = ["MahalanobisDetector"]


class _Whitened(nn.Module):
    """``||W (x - mu)||`` in float64, for export."""

    mean: Tensor
    whitening: Tensor

    def __init__(self, mean: Tensor, whitening: Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("whitening", whitening.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return ((x.flatten(1).to(torch.float64) - self.mean) @ self.whitening.T).norm(dim=1)


class MahalanobisDetector(FittedDetector):
    """Anomaly score = Mahalanobis distance ``||W (x - mu)||`` to the normal training data.

    ``mu`` is the training mean and ``W = Sigma^(-1/2)`` whitens a shrunk covariance
    ``Sigma = (1 - a) S + a (tr S / D) I`` (``S`` the empirical covariance; ``a`` fixed by
    ``shrinkage`` or estimated by Ledoit-Wolf, both from scikit-learn). Shrinkage keeps ``Sigma``
    invertible when there are fewer samples than features and bounds the constant below.

    "Training" estimates ``mu`` and ``W`` from the DataModule's ``train_features()`` (or the batches
    seen); they are buffers saved in checkpoints. Scores are computed in float64.

    Args:
        shrinkage: ``a`` in [0, 1]; None estimates it with Ledoit-Wolf.
        epsilons: radii of the certified AUROC.

    Example:
        >>> detector = MahalanobisDetector(shrinkage=0.0)
        >>> detector.fit_statistics(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]]))
        >>> detector.score(torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
        tensor([2.8284, 1.4142], dtype=torch.float64)
    """

    mean: Tensor
    whitening: Tensor

    card = MethodCard(
        paper="Mahalanobis, On the generalised distance in statistics, 1936; Ledoit & Wolf, "
        "A well-conditioned estimator for large-dimensional covariance matrices, 2004",
        url="https://doi.org/10.1016/S0047-259X(03)00096-4",
    )

    fitted_buffers = ("mean", "whitening")

    def __init__(self, shrinkage: float | None = None, epsilons: Sequence[float] = (0.25, 0.5, 1.0)) -> None:
        super().__init__(epsilons=epsilons)
        if shrinkage is not None and not 0.0 <= shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1] (or None for Ledoit-Wolf), got {shrinkage}.")
        self.save_hyperparameters()
        self.register_buffer("mean", torch.empty(0, dtype=torch.float64))
        self.register_buffer("whitening", torch.empty(0, 0, dtype=torch.float64))

    @property
    def is_fitted(self) -> bool:
        return self.whitening.numel() > 0

    def fit_data(self, features: Tensor) -> None:
        self.fit_statistics(features)

    @torch.no_grad()
    def fit_statistics(self, features: Tensor) -> None:
        """Estimate ``mu`` and ``W`` from normal training inputs (flattened), in float64."""
        x = features.detach().flatten(1).to("cpu", torch.float64).numpy()
        if x.shape[0] < 2:
            raise ValueError(f"The Mahalanobis distance needs at least 2 training samples, got {x.shape[0]}.")
        shrinkage = self.hparams.shrinkage
        estimator = LedoitWolf() if shrinkage is None else ShrunkCovariance(shrinkage=shrinkage)
        covariance = estimator.fit(x).covariance_
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        if eigenvalues.min() <= 1e-12 * max(eigenvalues.max(), 1e-300):
            raise ValueError("The training covariance is singular: set shrinkage > 0 (or None for Ledoit-Wolf).")
        whitening = (eigenvectors / np.sqrt(eigenvalues)).T
        self.mean = torch.from_numpy(estimator.location_).to(self.device)
        self.whitening = torch.from_numpy(np.ascontiguousarray(whitening)).to(self.device)

    def _centred(self, x: Tensor) -> Tensor:
        if self.whitening.numel() == 0:
            raise RuntimeError("MahalanobisDetector is not fitted: fit it (trainer.fit) or call fit_statistics().")
        x = x.flatten(1).to(torch.float64)
        if x.shape[1] != self.mean.numel():
            raise ValueError(f"MahalanobisDetector was fitted on {self.mean.numel()} features, got {x.shape[1]}.")
        return x - self.mean

    def export_module(self) -> nn.Module:
        if not self.is_fitted:
            raise RuntimeError("MahalanobisDetector is not fitted: fit it before exporting it.")
        return _Whitened(self.mean, self.whitening)

    def score(self, x: Tensor) -> Tensor:
        return (self._centred(x) @ self.whitening.T).norm(dim=1)

    @property
    def lipschitz_bound(self) -> float | None:
        """``||W||_2 (1 + 64 D u)``: a proven l2 constant of the score as computed from the stored ``W``.

        Proof: ``|s(x) - s(y)| = | ||W(x - mu)|| - ||W(y - mu)|| | <= ||W (x - y)|| <= ||W||_2 ||x - y||``
        (reverse triangle inequality, then the operator norm). ``||W||_2`` is the largest singular
        value of the stored float64 matrix; LAPACK computes it backward stably, to an absolute error
        below ``p(D) u ||W||_2`` with ``p(D)`` a small multiple of D, which the factor
        ``1 + 64 D u`` covers. None before fitting.
        """
        if self.whitening.numel() == 0:
            return None
        dimension = self.whitening.shape[1]
        spectral = float(torch.linalg.matrix_norm(self.whitening, ord=2))
        return spectral * (1 + 64 * dimension * unit_roundoff(torch.float64))

    def certified_scores(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Scores and a proven bound on their float64 rounding error over the largest radius's ball.

        With ``v = x - mu``, ``a = ||W||_2``, ``F = ||W||_F``, ``g = gamma_{D+2}`` and ``r`` a bound on
        ``||v||`` over the ball: the subtraction errs by ``u r`` (times ``a`` after ``W``), the
        product by ``gamma_D F (1 + u) r`` (Higham, eq. 3.11 with ``|| |W| ||_2 <= F``), and the
        norm of the result by ``g`` relatively; together at most ``r (g (a + 2F)(1 + g) + g a)``.
        """
        centred = self._centred(x)
        scores = (centred @ self.whitening.T).norm(dim=1)
        dimension = self.whitening.shape[1]
        g = gamma(dimension + 2, max(matmul_unit_roundoff(torch.float64), unit_roundoff(torch.float64)))
        a = float(self.lipschitz_bound or 0.0)
        frobenius = float(self.whitening.norm()) * (1 + g)
        radius = centred.norm(dim=1) * (1 + 2 * g) + max(self.epsilons)
        return scores, (radius * (g * (a + 2 * frobenius) * (1 + g) + g * a)).detach()
