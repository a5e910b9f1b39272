"""What one evaluation epoch measured, and the hook through which callbacks receive it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from torch import Tensor

if TYPE_CHECKING:
    import lightning as L

__all__ = ["ATTACKED_CURVE", "Evaluation", "EvaluationListener"]

ATTACKED_CURVE = "attacked AUROC (PGD)"
"""Name of the curve :class:`~lightning_occ.callbacks.AttackCheck` adds to an evaluation."""


@dataclass
class Evaluation:
    """One evaluation epoch of a detector: the scores it ranked and what is certified about them.

    Attributes:
        stage: ``"val"`` or ``"test"``.
        scores: every sample's anomaly score, shape (N,).
        target: labels, 1 = anomaly, shape (N,).
        epsilons: the radii, 0 first.
        certified: AUROC at each radius, shape (K,): the clean AUROC at 0; at eps > 0 the certified
            AUROC, or NaN when nothing is certified (``certificate`` is None).
        lipschitz_bound: the proven constant behind a Lipschitz certificate, else None.
        certificate: how the certified AUROC is certified, in words; None when it is not.
        lower, upper: per-sample certified bounds (N, K) from a smoothing certifier, else None.
        other_curves: further AUROC-per-radius curves for the same samples (e.g. the attacked AUROC).
        score_error: the largest proven rounding bound of a certified score
            (see :mod:`lightning_occ.nn.rounding`).
        gradient_norms: input-gradient norms of the certified score on test data
            (:mod:`lightning_occ.utils.diagnostics`).
        threshold: the decision threshold (chosen on validation data), else None.
        threshold_rule: how it was chosen, in words.
        decisions: precision, recall, F1 and FPR of ``score > threshold``.
        certified_accuracy: per radius, the share of decisions correct and certified (Lipschitz
            detectors with a threshold), shape (K,).
    """

    stage: str
    scores: Tensor
    target: Tensor
    epsilons: list[float]
    certified: Tensor
    lipschitz_bound: float | None
    certificate: str | None = None
    lower: Tensor | None = None
    upper: Tensor | None = None
    other_curves: dict[str, Tensor] = field(default_factory=dict)
    score_error: float | None = None
    gradient_norms: dict[str, float] | None = None
    threshold: float | None = None
    threshold_rule: str | None = None
    decisions: dict[str, float] | None = None
    certified_accuracy: Tensor | None = None

    @property
    def auroc(self) -> float:
        """The clean AUROC."""
        return float(self.certified[0])

    @property
    def is_certified(self) -> bool:
        return self.certificate is not None

    def metrics(self) -> dict[str, float]:
        """``{stage}/auroc`` and ``{stage}/certified_auroc@{eps}`` (the latter only with a certificate)."""
        out = {f"{self.stage}/auroc": self.auroc}
        if self.is_certified:
            for eps, value in zip(self.epsilons[1:], self.certified[1:].tolist()):
                out[f"{self.stage}/certified_auroc@{eps:g}"] = value
        for name, value in (self.decisions or {}).items():
            out[f"{self.stage}/{name}"] = value
        if self.certified_accuracy is not None:
            out[f"{self.stage}/accuracy"] = float(self.certified_accuracy[0])
            for eps, value in zip(self.epsilons[1:], self.certified_accuracy[1:].tolist()):
                out[f"{self.stage}/certified_accuracy@{eps:g}"] = value
        return out


@runtime_checkable
class EvaluationListener(Protocol):
    """A callback that receives every :class:`Evaluation` a detector produces.

    The detector calls ``on_evaluation`` once per validation or test epoch, on every process, after
    logging its metrics; reports, attack checks and recorders implement it. Listeners run in the
    order of ``trainer.callbacks`` and may add curves to the evaluation they receive.
    """

    def on_evaluation(self, trainer: L.Trainer, detector: L.LightningModule, evaluation: Evaluation) -> None: ...
