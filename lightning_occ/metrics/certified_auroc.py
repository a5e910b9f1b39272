"""CertifiedAUROC: a torchmetrics Metric for worst-case AUROC under l2 perturbations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lightning_occ.metrics.functional import _as_epsilons, certified_auroc, check_binary_target, exact_auroc

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
        lipschitz: proven Lipschitz constant of the score (Lipschitz mode); ``update`` may also carry
            it, for a score whose constant changes during training. Leave it None and pass
            ``lower``/``upper`` to ``update`` for interval mode. With neither, nothing is certified:
            ``compute`` gives the clean AUROC at radius 0 and NaN at every radius > 0.

    Example:
        >>> import torch
        >>> metric = CertifiedAUROC(epsilons=[0.0, 0.15], lipschitz=1.0)
        >>> metric.update(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> metric.compute()
        tensor([0.7500, 0.5000], dtype=torch.float64)
    """

    scores: list[Tensor]
    target: list[Tensor]
    lower: list[Tensor]
    upper: list[Tensor]
    score_error: list[Tensor]
    update_lipschitz: Tensor

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
        self.add_state("update_lipschitz", default=torch.tensor(-torch.inf, dtype=torch.float64), dist_reduce_fx="max")

    def update(
        self,
        scores: Tensor,
        target: Tensor,
        lower: Tensor | None = None,
        upper: Tensor | None = None,
        score_error: Tensor | None = None,
        lipschitz: float | None = None,
    ) -> None:
        """Add a batch: scores (B,), labels (B,) of 0/1, in interval mode bounds (B, K), and in
        Lipschitz mode optionally each score's rounding bound (B,) (see ``certified_auroc``) and the
        proven constant of the function that computed these scores (the largest one given is used)."""
        if scores.shape != target.shape or scores.ndim != 1:
            raise ValueError(
                f"`scores` and `target` must be 1-D with equal shapes, got {tuple(scores.shape)} and "
                f"{tuple(target.shape)}."
            )
        if (lower is None) != (upper is None):
            raise ValueError("Pass both `lower` and `upper` (interval mode) or neither (Lipschitz mode).")
        check_binary_target(target)
        if lipschitz is not None:
            if not (float(lipschitz) >= 0 and torch.isfinite(torch.tensor(float(lipschitz)))):
                raise ValueError(f"`lipschitz` must be a finite number >= 0, got {lipschitz}.")
            self.update_lipschitz = torch.maximum(
                self.update_lipschitz,
                torch.tensor(float(lipschitz), dtype=torch.float64, device=self.update_lipschitz.device),
            )
        if score_error is not None:
            self.score_error.append(torch.as_tensor(score_error).detach().to(torch.float64).expand(scores.shape))
        self.scores.append(scores.detach().to(torch.float64))
        self.target.append(target.detach().long())
        if lower is not None and upper is not None:
            self.lower.append(lower.detach().to(torch.float64))
            self.upper.append(upper.detach().to(torch.float64))

    def compute(self) -> Tensor:
        """Certified AUROC at each radius, shape (K,)."""
        if not _holds_values(self.scores):
            raise ValueError(
                "CertifiedAUROC.compute() was called before any update(): it has no scores to rank. "
                "Call update(scores, target) with at least one normal and one anomalous sample first."
            )
        scores, target = dim_zero_cat(self.scores), dim_zero_cat(self.target)
        if _holds_values(self.lower):  # a list before synchronisation, a tensor after
            return certified_auroc(
                None, target, self.epsilons, lower=dim_zero_cat(self.lower), upper=dim_zero_cat(self.upper)
            )
        error = dim_zero_cat(self.score_error) if _holds_values(self.score_error) else None
        if error is not None and error.numel() != scores.numel():
            raise ValueError("Give `score_error` with every update() or with none: some batches lack it.")
        bound = self.lipschitz_bound()
        if bound is None:
            clean = exact_auroc(scores, target).to(torch.float64)
            epsilons = torch.tensor(self.epsilons, dtype=torch.float64, device=clean.device)
            return torch.where(epsilons == 0, clean, torch.full_like(epsilons, torch.nan))
        return certified_auroc(scores, target, self.epsilons, lipschitz=bound, score_error=error)

    def lipschitz_bound(self) -> float | None:
        """The constant certifying the scores: the largest one given to ``update``, else the constructor's."""
        seen = float(self.update_lipschitz)
        return seen if seen > -float("inf") else self.lipschitz

    def has_score_error(self) -> bool:
        """Whether the updates carried rounding bounds (required with a Lipschitz certificate)."""
        return _holds_values(self.score_error)

    def gathered(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Every process's scores, labels and rounding bounds (None when not given), concatenated."""
        with self.sync_context():
            scores, target = dim_zero_cat(self.scores), dim_zero_cat(self.target)
            error = dim_zero_cat(self.score_error) if _holds_values(self.score_error) else None
        return scores, target, error

    def gathered_bounds(self) -> tuple[Tensor, Tensor]:
        """Interval mode: every process's ``lower`` and ``upper`` bounds, concatenated."""
        with self.sync_context():
            return dim_zero_cat(self.lower), dim_zero_cat(self.upper)

    def plot(self, val: Tensor | None = None, ax: Any = None) -> Any:
        """Draw the certified-AUROC curve (AUROC against radius); returns ``(figure, axes)``."""
        from lightning_occ.metrics.plots import plot_certified_curve

        values = self.compute() if val is None else val
        return plot_certified_curve(self.epsilons, values, ax=ax)
