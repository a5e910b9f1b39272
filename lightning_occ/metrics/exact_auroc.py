"""ExactAUROC: the plain AUROC of anomaly scores, taken as they are and exact under DDP."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lightning_occ.metrics.certified_auroc import CertifiedAUROC

__all__ = ["ExactAUROC"]


class ExactAUROC(CertifiedAUROC):
    """AUROC of anomaly scores (target 1 = anomaly, higher score = more anomalous), in float64.

    torchmetrics' ``BinaryAUROC`` reads scores outside [0, 1] as logits and applies a float32
    sigmoid, which merges close scores into ties: ODIN's ``-max softmax`` at T = 1000 varies only
    in the fifth decimal and lost up to 0.015 AUROC that way. This metric ranks the scores
    themselves (the radius-0 case of :class:`CertifiedAUROC`: every process keeps its scores,
    ``compute`` gathers them, no binning).

    Example:
        >>> import torch
        >>> metric = ExactAUROC()
        >>> metric.update(torch.tensor([-0.2500001, -0.2500003, -0.2500002]), torch.tensor([1, 0, 1]))
        >>> float(metric.compute())
        1.0
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(epsilons=[0.0], **kwargs)

    def compute(self) -> Tensor:
        """The AUROC, a float64 scalar."""
        return super().compute()[0]
