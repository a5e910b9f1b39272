"""SmoothedDetector: certified AUROC for any detector through percentile smoothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from lightning_occ.certify.percentile import PercentileSmoothing
from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import Evaluation
from lightning_occ.metrics import CertifiedAUROC
from lightning_occ.metrics.decisions import decision_metrics, interval_certified_decisions
from lightning_occ.metrics.functional import exact_auroc

__all__ = ["SmoothedDetector"]


class SmoothedDetector(AnomalyDetector):
    """Wrap a detector so its evaluation reports smoothed AUROC and smoothing-certified AUROC.

    The score is the percentile-smoothed score of the wrapped detector; ``validation``/``test``
    log ``auroc`` of the smoothed scores and ``certified_auroc@eps`` from the certified intervals
    (interval mode of :class:`~lightning_occ.metrics.CertifiedAUROC`). When the wrapped detector has
    a Lipschitz bound, its own deterministic certified AUROC is reported next to it for comparison.

    Args:
        detector: the detector to smooth; or give ``checkpoint``.
        checkpoint: path of a lightning-occ checkpoint to load the detector from.
        certifier: percentile smoothing settings; its radii are replaced by ``epsilons``.
        epsilons: radii to certify (0 is added for the clean AUROC).

    Example (``lightning-occ test``; ``lightning-occ certify`` does the same and writes per-sample
    certificates)::

        lightning-occ test --config configs/ocsdf/breast_cancer.yaml \\
            --model lightning_occ.certify.SmoothedDetector --model.checkpoint <ckpt> --model.certifier.sigma 0.25
    """

    def __init__(
        self,
        detector: AnomalyDetector | None = None,
        checkpoint: str | None = None,
        certifier: PercentileSmoothing | None = None,
        epsilons: Sequence[float] = (0.25, 0.5, 1.0),
    ) -> None:
        super().__init__(epsilons)
        if (detector is None) == (checkpoint is None):
            raise ValueError("Give exactly one of `detector` (a model) or `checkpoint` (a path to a .ckpt file).")
        self.save_hyperparameters(ignore=["detector", "certifier"])
        self.detector = detector if detector is not None else load_detector(str(checkpoint))
        self.detector.eval()
        settings = certifier or PercentileSmoothing(epsilons=[0.0])
        self.certifier = settings.at_radii(self.epsilons)
        self.base_metrics = nn.ModuleDict({"val": CertifiedAUROC(self.epsilons), "test": CertifiedAUROC(self.epsilons)})

    def _base_metric(self, stage: str) -> CertifiedAUROC:
        """The wrapped detector's own certified AUROC for ``stage`` (compared with the smoothed one)."""
        return cast(CertifiedAUROC, self.base_metrics[stage])

    def score(self, x: Tensor) -> Tensor:
        return self.certifier.certify(self.detector.score, x).score

    def decide(self, x: Tensor) -> dict[str, Tensor]:
        """The smoothed score, its certified bounds at every radius (``lower@eps``, ``upper@eps``) and, with
        a threshold, the decision and the largest radius at which it is certified."""
        certificate = self.certifier.certify(self.detector.score, x)
        out = {"score": certificate.score}
        for k, eps in enumerate(self.epsilons):
            if eps > 0:
                out[f"lower@{eps:g}"] = certificate.lower[:, k]
                out[f"upper@{eps:g}"] = certificate.upper[:, k]
        threshold = self.threshold
        if threshold is not None:
            certified = interval_certified_decisions(certificate.score, certificate.lower, certificate.upper, threshold)
            radii = torch.tensor(self.epsilons, dtype=torch.float64, device=x.device)
            out["decision"] = (certificate.score > threshold).long()
            out["certified_radius"] = torch.where(certified, radii, torch.zeros_like(radii)).amax(dim=1)
        return out

    def certificate_description(self) -> str:
        c = self.certifier
        joint = "all radii jointly" if c.simultaneous else "each radius"
        return (
            f"percentile smoothing (p={c.percentile}, sigma={c.sigma}, n={c.n}, alpha={c.alpha} per sample for {joint})"
        )

    def evaluation_step(self, metric: CertifiedAUROC, batch: AnomalyBatch) -> None:
        x, target = batch.labelled()
        with torch.no_grad():
            certificate = self.certifier.certify(self.detector.score, x)
            base = self._base_metric("val" if metric is self.val_certified else "test")
            base_scores, base_error = self.detector.certified_scores(x)
            base.update(base_scores, target, score_error=base_error, lipschitz=self.detector.lipschitz_bound)
        metric.update(certificate.score, target, certificate.lower, certificate.upper)

    def compute_evaluation(self, stage: str, metric: CertifiedAUROC) -> Evaluation:
        interval = metric.compute().cpu()
        scores, target, _ = metric.gathered()
        scores, target = scores.cpu(), target.cpu()
        lower, upper = (bound.cpu() for bound in metric.gathered_bounds())
        clean = exact_auroc(scores, target).reshape(1)
        certified = torch.cat([clean, interval[1:]])
        base_metric = self._base_metric(stage)
        curves: dict[str, Tensor] = {}
        if base_metric.lipschitz_bound() is not None:
            curves["Lipschitz (unsmoothed)"] = base_metric.compute().cpu()
        base_metric.reset()
        evaluation = Evaluation(
            stage, scores, target, self.epsilons, certified, None, self.certificate_description(), lower, upper, curves
        )
        threshold = self.threshold
        if threshold is not None:
            evaluation.threshold = threshold
            evaluation.threshold_rule = self.threshold_rule
            evaluation.decisions = decision_metrics(scores, target, threshold)
            correct = ((scores > threshold) == target.bool()).unsqueeze(1)
            evaluation.certified_accuracy = (
                (correct & interval_certified_decisions(scores, lower, upper, threshold)).double().mean(0)
            )
            evaluation.certified_accuracy[0] = correct.double().mean()
        return evaluation
