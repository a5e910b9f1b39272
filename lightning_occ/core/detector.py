"""The detector contract: every anomaly detector in lightning-occ is an :class:`AnomalyDetector`.

* :meth:`AnomalyDetector.score` maps a batch of inputs to anomaly scores (higher = more anomalous).
* :attr:`AnomalyDetector.lipschitz_bound` is a *proven* l2 Lipschitz constant of ``score`` in the
  model's input units, or None when the method has none (then certify with ``lightning_occ.certify``).
* Validation and test log ``{stage}/auroc`` and, when a bound exists, ``{stage}/certified_auroc@{eps}``
  for each radius in ``epsilons``, computed by :class:`~lightning_occ.metrics.CertifiedAUROC` on
  every sample exactly once (also under DDP), and hand an :class:`~lightning_occ.core.evaluation.Evaluation`
  to every callback that listens (:class:`~lightning_occ.core.evaluation.EvaluationListener`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import lightning as L
import torch
from torch import Tensor, nn

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.card import MethodCard
from lightning_occ.core.evaluation import Evaluation, EvaluationListener
from lightning_occ.errors import ExportError
from lightning_occ.metrics import CertifiedAUROC
from lightning_occ.metrics.decisions import certified_accuracy, certified_decision_radius, decision_metrics
from lightning_occ.nn.rounding import Float64Twin

__all__ = ["DETECTOR_CLASS_KEY", "AnomalyDetector"]

DETECTOR_CLASS_KEY = "lightning_occ_detector_class"
"""Checkpoint key naming the detector's class, so a checkpoint alone can be loaded back."""
THRESHOLD_RULE_KEY = "lightning_occ_threshold_rule"
"""Checkpoint key holding how the decision threshold was chosen, in words."""


class AnomalyDetector(L.LightningModule, ABC):
    """Base class: scoring, Lipschitz bound, and certified evaluation.

    Args:
        epsilons: l2 radii (model input units) at which the certified AUROC is reported; 0 is
            always added for the clean AUROC.
        pretrained: ``zoo:NAME`` or a checkpoint of the same method whose weights initialise a new
            ``fit`` (fine-tuning), loaded by :class:`~lightning_occ.callbacks.PretrainedWeights`
            (which the ``lightning-occ`` trainer adds); ignored when the fit resumes from ``ckpt_path``.
    """

    card: ClassVar[MethodCard] = MethodCard()
    """The paper and licence of the method (see :class:`~lightning_occ.core.card.MethodCard`)."""
    decision_threshold: Tensor

    if TYPE_CHECKING:  # Lightning types hparams as a plain mapping; it is an attribute dict

        @property
        def hparams(self) -> Any: ...

    def __init__(self, epsilons: Sequence[float] = (0.25, 0.5, 1.0), pretrained: str | None = None) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.pretrained_loaded = False
        radii = sorted({0.0, *(float(e) for e in epsilons)})
        if radii[0] < 0:
            raise ValueError(f"Every radius in `epsilons` must be >= 0, got {list(epsilons)}.")
        self.epsilons = radii
        self.val_certified = CertifiedAUROC(radii)
        self.test_certified = CertifiedAUROC(radii)
        self._float64_twin = Float64Twin()
        self.register_buffer("decision_threshold", torch.tensor(float("nan"), dtype=torch.float64))
        self.threshold_rule: str | None = None

    @property
    def threshold(self) -> float | None:
        """The decision threshold (``score > threshold`` flags an anomaly), or None when none was chosen;
        set with :meth:`set_threshold` (the :class:`~lightning_occ.callbacks.Threshold` callback does
        it from validation data) and saved in checkpoints."""
        value = float(self.decision_threshold)
        return value if math.isfinite(value) else None

    def set_threshold(self, value: float, rule: str = "set by hand") -> None:
        if not math.isfinite(value):
            raise ValueError(f"A decision threshold must be a finite number, got {value}.")
        self.decision_threshold.fill_(float(value))
        self.threshold_rule = rule

    def decide(self, x: Tensor) -> dict[str, Tensor]:
        """Score a batch and, with a threshold, decide: ``score``, ``decision`` (1 = anomaly) and, for a
        Lipschitz detector, ``certified_radius``: the l2 radius within which no perturbation flips the
        decision (capped at the largest radius in ``epsilons``, the ball its rounding bound covers)."""
        scores, error = self.certified_scores(x)
        out = {"score": scores}
        threshold, bound = self.threshold, self.lipschitz_bound
        if threshold is not None:
            out["decision"] = (scores > threshold).long()
            if bound is not None:
                radius = certified_decision_radius(scores, threshold, bound, error)
                out["certified_radius"] = radius.clamp(max=max(self.epsilons))
        return out

    @abstractmethod
    def score(self, x: Tensor) -> Tensor:
        """Anomaly scores of a batch, shape (N,); higher means more anomalous."""

    @property
    def lipschitz_bound(self) -> float | None:
        """A proven l2 Lipschitz constant of :meth:`score`, or None if the method has none."""
        return None

    def certified_scores(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The scores the certified AUROC ranks, and per sample a proven bound on their rounding error
        that holds over the ball of the largest radius (None: no Lipschitz certificate).

        The floating-point policy (:mod:`lightning_occ.nn.rounding`): a detector with a
        :attr:`lipschitz_bound` must override this and return a bound, usually by evaluating in
        float64; the certified AUROC widens every margin by twice that bound.
        """
        return self.score(x), None

    def attacked_score(self, x: Tensor) -> Tensor:
        """The function an attack should attack: the one the certificate is about."""
        return self.certified_scores(x)[0]

    def export_module(self) -> nn.Module:
        """A plain torch module computing :meth:`score` from a batch of inputs, traceable for ONNX and
        TorchScript (no data-dependent control flow, no parametrisation); detectors that can be
        exported override it."""
        raise ExportError(
            f"{type(self).__name__} cannot be exported: it has no traceable score function. "
            "Export OCSDF, KNNDetector, CompactVAE or MahalanobisDetector, or serve the checkpoint."
        )

    def certificate_description(self) -> str | None:
        """How the certified AUROC is certified (shown in reports), or None when it is not."""
        bound = self.lipschitz_bound
        return None if bound is None else f"Lipschitz bound of the score {bound:.6f}"

    def forward(self, x: Tensor) -> Tensor:
        return self.score(x)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[DETECTOR_CLASS_KEY] = f"{type(self).__module__}.{type(self).__qualname__}"
        checkpoint[THRESHOLD_RULE_KEY] = self.threshold_rule

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.threshold_rule = checkpoint.get(THRESHOLD_RULE_KEY)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # checkpoints and zoo weights from before thresholds existed have none
        state_dict.setdefault(prefix + "decision_threshold", torch.tensor(float("nan"), dtype=torch.float64))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def on_fit_start(self) -> None:
        if self.pretrained and not self.pretrained_loaded and self.trainer.ckpt_path is None:
            raise ValueError(
                f"pretrained={self.pretrained!r} is loaded by the PretrainedWeights callback: fit with "
                "lightning_occ.OCCTrainer (the lightning-occ command does), or add "
                "lightning_occ.callbacks.PretrainedWeights() to your Trainer's callbacks."
            )

    def on_pretrained_loaded(self) -> None:
        """Called after ``pretrained`` weights were copied in, before training starts (default: nothing)."""

    # ------------------------------------------------------------------ evaluation
    def evaluation_step(self, metric: CertifiedAUROC, batch: AnomalyBatch) -> None:
        """Add one evaluation batch to ``metric`` (override to add certified bounds)."""
        x, target = batch.labelled()
        scores, error = self.certified_scores(x)
        metric.update(scores, target, score_error=error, lipschitz=self.lipschitz_bound)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.evaluation_step(self.val_certified, AnomalyBatch.of(batch))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.evaluation_step(self.test_certified, AnomalyBatch.of(batch))

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """:meth:`decide` on the batch's inputs (what ``lightning-occ predict`` writes, one row per input)."""
        return self.decide(AnomalyBatch.of(batch).input)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._finish_evaluation("val", self.val_certified)
        self.val_certified.reset()

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test", self.test_certified)
        self.test_certified.reset()

    def compute_evaluation(self, stage: str, metric: CertifiedAUROC) -> Evaluation:
        """Turn the synchronised ``metric`` into an :class:`Evaluation` (override with ``evaluation_step``)."""
        bound = metric.lipschitz_bound()
        if bound is not None and not metric.has_score_error():
            raise RuntimeError(
                f"{type(self).__name__} claims a Lipschitz bound but its certified_scores() gave no "
                "rounding bound; see the floating-point policy in lightning_occ.nn.rounding."
            )
        certified = metric.compute().cpu()
        scores, target, error = metric.gathered()
        evaluation = Evaluation(
            stage,
            scores.cpu(),
            target.cpu(),
            self.epsilons,
            certified,
            bound,
            self.certificate_description(),
            score_error=None if error is None else float(error.max()),
        )
        threshold = self.threshold
        if threshold is not None:
            evaluation.threshold, evaluation.threshold_rule = threshold, self.threshold_rule
            evaluation.decisions = decision_metrics(scores, target, threshold)
            if bound is not None:
                evaluation.certified_accuracy = certified_accuracy(
                    scores, target, threshold, self.epsilons, bound, error
                ).cpu()
        return evaluation

    def _finish_evaluation(self, stage: str, metric: CertifiedAUROC) -> None:
        evaluation = self.compute_evaluation(stage, metric)
        for name, value in evaluation.metrics().items():
            self.log(name, value)
        if evaluation.lipschitz_bound is not None:
            self.log(f"{stage}/lipschitz_bound", evaluation.lipschitz_bound)
        for callback in getattr(self.trainer, "callbacks", []):
            if isinstance(callback, EvaluationListener):
                callback.on_evaluation(self.trainer, self, evaluation)
