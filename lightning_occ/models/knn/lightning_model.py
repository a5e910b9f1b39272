"""k-nearest-neighbour distance detector: the honest baseline for certified numbers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lightning_occ.core.fitted import FittedDetector
from lightning_occ.nn.nearest import BankDistance, knn_mean_distance, knn_relative_error

__all__ = ["KNNDetector"]


class KNNDetector(FittedDetector):
    """Anomaly score = mean l2 distance to the k nearest training points.

    Scores are float64 and free of cancellation (:func:`lightning_occ.nn.nearest.exact_knn`): a fast
    float32 search picks candidates, the distances are recomputed from differences, so the computed
    score is the 1-Lipschitz function of the proof up to a relative error of about 1e-13.

    "Training" stores the training set as a memory bank (the DataModule's ``train_features()`` when
    it has one, so every process holds the same full bank under DDP; otherwise the batches seen).
    The bank is a buffer saved in checkpoints.

    Args:
        k: number of neighbours.
        epsilons: radii of the certified AUROC.

    Example:
        >>> detector = KNNDetector(k=1)
        >>> detector.fit_bank(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
        >>> detector.score(torch.tensor([[0.0, 2.0]]))
        tensor([2.], dtype=torch.float64)
    """

    bank: Tensor

    fitted_buffers = ("bank",)

    def __init__(self, k: int = 5, epsilons: Sequence[float] = (0.25, 0.5, 1.0)) -> None:
        super().__init__(epsilons=epsilons)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.save_hyperparameters()
        self.register_buffer("bank", torch.empty(0, 0))

    @property
    def is_fitted(self) -> bool:
        return self.bank.numel() > 0

    def fit_data(self, features: Tensor) -> None:
        self.fit_bank(features)

    def fit_bank(self, features: Tensor) -> None:
        """Store the (flattened) training features as the memory bank."""
        features = features.detach().flatten(1).to(self.device, torch.float32)
        if len(features) < self.hparams.k:
            raise ValueError(f"k={self.hparams.k} is larger than the {len(features)} training samples; lower k.")
        self.bank = features

    def score(self, x: Tensor) -> Tensor:
        if self.bank.numel() == 0:
            raise RuntimeError("The kNN bank is empty: fit the detector (trainer.fit) or call fit_bank() first.")
        x = x.flatten(1)
        if x.shape[1] != self.bank.shape[1]:
            raise ValueError(f"KNNDetector was fitted on {self.bank.shape[1]} features, got {x.shape[1]}.")
        return knn_mean_distance(x, self.bank, self.hparams.k)

    def export_module(self) -> nn.Module:
        """The mean distance to the bank as one graph (:class:`~lightning_occ.nn.nearest.BankDistance`)."""
        if not self.is_fitted:
            raise RuntimeError("The kNN bank is empty: fit the detector before exporting it.")
        return BankDistance(self.bank, self.hparams.k)

    def certified_scores(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Scores and their rounding bound over the largest radius's ball (see :mod:`lightning_occ.nn.rounding`):
        ``rho * (s + eps_max)``, with ``rho`` from :func:`~lightning_occ.nn.nearest.knn_relative_error`."""
        scores = self.score(x)
        rho = knn_relative_error(self.bank.shape[1], self.hparams.k)
        return scores, (rho * (scores * (1 + 2 * rho) + max(self.epsilons))).detach()

    @property
    def lipschitz_bound(self) -> float:
        """1: the mean distance to the k nearest points of a fixed set is 1-Lipschitz (l2).

        Proof: each ``d_j(x) = ||x - t_j||`` is 1-Lipschitz (triangle inequality). The sum of the k
        smallest ``d_j(x)`` equals ``min over k-subsets S of sum_{j in S} d_j(x)``; each inner sum is
        k-Lipschitz and a minimum of k-Lipschitz functions is k-Lipschitz. Dividing by k gives 1.
        """
        return 1.0
