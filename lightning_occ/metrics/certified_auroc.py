"""CertifiedAUROC: a torchmetrics Metric for worst-case AUROC under l2 perturbations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lightning_occ.metrics.functional import _as_epsilons, certified_auroc, check_binary_target

__all__ = ["CertifiedAUROC"]


def _holds_values(state: list[Tensor] | Tensor) -> bool:
    return state.numel() > 0 if isinstance(state, Tensor) else len(state) > 0


class CertifiedAUROC(Metric):
    """Certified AUROC at several radii, exact under DDP.

    Every process keeps its own scores and labels; ``compute`` gathers them with ``cat`` (no
    binning, no padded duplicates) so a multi-process run gives the single-process number.
    See :func:`lightning_occ.metrics.functional.certified_auroc` for the two modes.

    Args:
        epsilons: the radii to certify at (l2, in the model's input units).
        lipschitz: proven Lipschitz constant of the score (Lipschitz mode). May also be set later
            through the ``lipschitz`` attribute, e.g. when it changes during training. Leave it
            None and pass ``lower``/``upper`` to ``update`` for interval mode.

    Example:
        >>> import torch
        >>> metric = CertifiedAUROC(epsilons=[0.0, 0.15], lipschitz=1.0)
        >>> metric.update(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> metric.compute()
        tensor([0.7500, 0.5000], dtype=torch.float64)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, epsilons: Sequence[float], lipschitz: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilons = _as_epsilons(epsilons).tolist()
        self.lipschitz = lipschitz
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.add_state("lower", default=[], dist_reduce_fx="cat")
        self.add_state("upper", default=[], dist_reduce_fx="cat")
        self.add_state("score_error", default=[], dist_reduce_fx="cat")

    def update(
        self, scores: Tensor, target: Tensor, lower: Tensor | None = None, upper: Tensor | None = None,
        score_error: Tensor | None = None,
    ) -> None:
        """Add a batch: scores (B,), labels (B,) of 0/1, in interval mode bounds (B, K), and in
        Lipschitz mode optionally each score's rounding bound (B,) (see ``certified_auroc``)."""
        if scores.shape != target.shape or scores.ndim != 1:
            raise ValueError(
                f"`scores` and `target` must be 1-D with equal shapes, got {tuple(scores.shape)} and "
                f"{tuple(target.shape)}."
            )
        if (lower is None) != (upper is None):
            raise ValueError("Pass both `lower` and `upper` (interval mode) or neither (Lipschitz mode).")
        check_binary_target(target)
        if score_error is not None:
            self.score_error.append(torch.as_tensor(score_error).detach().to(torch.float64).expand(scores.shape))
        self.scores.append(scores.detach().to(torch.float64))
        self.target.append(target.detach().long())
        if lower is not None:
            self.lower.append(lower.detach().to(torch.float64))
            self.upper.append(upper.detach().to(torch.float64))

    def compute(self) -> Tensor:
        """Certified AUROC at each radius, shape (K,)."""
        if not _holds_values(self.scores):
            raise ValueError("CertifiedAUROC.compute() was called before any update(): it has no scores to rank. "
                             "Call update(scores, target) with at least one normal and one anomalous sample first.")
        scores, target = dim_zero_cat(self.scores), dim_zero_cat(self.target)
        if _holds_values(self.lower):  # a list before synchronisation, a tensor after
            return certified_auroc(
                None, target, self.epsilons, lower=dim_zero_cat(self.lower), upper=dim_zero_cat(self.upper)
            )
        error = dim_zero_cat(self.score_error) if _holds_values(self.score_error) else None
        if error is not None and error.numel() != scores.numel():
            raise ValueError("Give `score_error` with every update() or with none: some batches lack it.")
        return certified_auroc(scores, target, self.epsilons, lipschitz=self.lipschitz, score_error=error)

    def has_score_error(self) -> bool:
        """Whether the updates carried rounding bounds (required with a Lipschitz certificate)."""
        return _holds_values(self.score_error)

    def plot(self, val: Tensor | None = None, ax: Any = None) -> Any:
        """Draw the certified-AUROC curve (AUROC against radius); returns ``(figure, axes)``."""
        from lightning_occ.metrics.plots import plot_certified_curve

        values = self.compute() if val is None else val
        return plot_certified_curve(self.epsilons, values, ax=ax)
