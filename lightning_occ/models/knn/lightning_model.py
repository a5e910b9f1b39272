"""k-nearest-neighbour distance detector: the honest baseline for certified numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.protocol import AnomalyDataModule, attached_datamodule
from lightning_occ.nn.nearest import knn_mean_distance, knn_relative_error

__all__ = ["KNNDetector"]


class KNNDetector(AnomalyDetector):
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

    def __init__(self, k: int = 5, epsilons: Sequence[float] = (0.25, 0.5, 1.0)) -> None:
        super().__init__(epsilons)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.save_hyperparameters()
        self.register_buffer("bank", torch.empty(0, 0))
        self._seen: list[Tensor] = []
        self.automatic_optimization = False
        # DistributedDataParallel refuses modules without a trainable parameter; this one is never
        # used by the score (so `lightning-occ fit --trainer.strategy ddp` works for kNN too).
        self.ddp_anchor = nn.Parameter(torch.zeros(()))

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

    def on_fit_start(self) -> None:
        """Build the bank from the DataModule's full training set (identical on every process), before
        the sanity-check validation runs."""
        super().on_fit_start()
        datamodule = attached_datamodule(self)
        if isinstance(datamodule, AnomalyDataModule):
            self.fit_bank(datamodule.train_features())

    def training_step(self, batch: Any, batch_idx: int) -> None:
        if self.bank.numel() == 0:
            self._seen.append(AnomalyBatch.of(batch).input.detach().flatten(1))

    def on_train_epoch_end(self) -> None:
        if self._seen:
            self.fit_bank(torch.cat(self._seen))
            self._seen = []

    def configure_optimizers(self) -> Any:
        return None

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        state_dict.setdefault(prefix + "ddp_anchor", torch.zeros(()))  # checkpoints from before the anchor
        bank = state_dict.get(prefix + "bank")
        if bank is not None:
            self.bank = torch.empty_like(bank, device=self.bank.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
