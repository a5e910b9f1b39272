"""The base LightningModule of every anomaly detector in lightning-occ.

Contract:

* :meth:`AnomalyDetector.score` maps a batch of inputs to anomaly scores (higher = more anomalous).
* :attr:`AnomalyDetector.lipschitz_bound` is a *proven* l2 Lipschitz constant of ``score`` in the
  model's input units, or None when the method has none (then certify with ``lightning_occ.certify``).
* Validation and test log ``{stage}/auroc`` and, when a bound exists, ``{stage}/certified_auroc@{eps}``
  for each radius in ``epsilons``, computed by :class:`~lightning_occ.metrics.CertifiedAUROC` on
  every sample exactly once (also under DDP).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics.utilities.data import dim_zero_cat

from lightning_occ.attacks import PGDSettings, pgd_attack_scores
from lightning_occ.metrics import CertifiedAUROC
from lightning_occ.nn.rounding import Float64Twin
from lightning_occ.rng import capture_rng_states, restore_rng_states

__all__ = ["ATTACKED_CURVE", "DETECTOR_CLASS_KEY", "AnomalyDetector", "Evaluation"]

DETECTOR_CLASS_KEY = "lightning_occ_detector_class"
ATTACKED_CURVE = "attacked AUROC (PGD)"
RNG_STATES_KEY = "lightning_occ_rng_states"
"""Checkpoint key naming the detector's class, so a checkpoint alone can be loaded back."""


@dataclass
class Evaluation:
    """What one evaluation epoch measured, kept on the detector for reports and plots."""

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
    """The largest proven rounding bound of a certified score (see :mod:`lightning_occ.nn.rounding`)."""
    gradient_norms: dict[str, float] | None = None
    """Input-gradient norms of the certified score on test data (:mod:`lightning_occ.diagnostics`)."""

    @property
    def auroc(self) -> float:
        return float(self.certified[0])

    def metrics(self) -> dict[str, float]:
        """``{stage}/auroc`` and ``{stage}/certified_auroc@{eps}`` (the latter only with a certificate)."""
        out = {f"{self.stage}/auroc": self.auroc}
        if self.certificate is not None:
            for eps, value in zip(self.epsilons[1:], self.certified[1:].tolist()):
                out[f"{self.stage}/certified_auroc@{eps:g}"] = value
        return out


class AnomalyDetector(L.LightningModule, ABC):
    """Base class: scoring, Lipschitz bound, and certified evaluation.

    Args:
        epsilons: l2 radii (model input units) at which the certified AUROC is reported; 0 is
            always added for the clean AUROC.
        pretrained: ``zoo:NAME`` or a checkpoint of the same method whose weights initialise a new
            ``fit`` (fine-tuning); ignored when the fit resumes from ``ckpt_path``.
    """

    def __init__(self, epsilons: Sequence[float] = (0.25, 0.5, 1.0), pretrained: str | None = None) -> None:
        super().__init__()
        self.pretrained = pretrained
        radii = sorted({0.0, *(float(e) for e in epsilons)})
        if radii[0] < 0:
            raise ValueError(f"Every radius in `epsilons` must be >= 0, got {list(epsilons)}.")
        self.epsilons = radii
        self.val_certified = CertifiedAUROC(radii)
        self.test_certified = CertifiedAUROC(radii)
        self.last_evaluation: Evaluation | None = None
        self.attack_settings: PGDSettings | None = None
        self.attacked_metrics: nn.ModuleList | None = None
        self._float64_twin = Float64Twin()

    def enable_attack_check(self, settings: PGDSettings | None = None) -> None:
        """Also run an l2 PGD attack at every radius during ``test`` and report the attacked AUROC
        next to the clean and certified ones (see :class:`lightning_occ.attack_check.AttackCheck`)."""
        self.attack_settings = settings or PGDSettings()
        self.attacked_metrics = nn.ModuleList(CertifiedAUROC([0.0], lipschitz=0.0) for _ in self.epsilons)

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

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[DETECTOR_CLASS_KEY] = f"{type(self).__module__}.{type(self).__qualname__}"
        checkpoint[RNG_STATES_KEY] = capture_rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resume_rng_states = checkpoint.get(RNG_STATES_KEY)

    def datamodule_input_shape(self, hint: str = "`input_shape`") -> list[int]:
        """The attached DataModule's ``input_shape``, for networks built lazily in ``setup``."""
        shape = getattr(self.trainer.datamodule, "input_shape", None) if self._trainer is not None else None
        if shape is None:
            raise ValueError(f"{type(self).__name__} needs {hint}, or a DataModule with an `input_shape`.")
        return list(shape)

    def on_fit_start(self) -> None:
        if self.pretrained and self.trainer.ckpt_path is None:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, source: str) -> None:
        """Copy the weights of ``zoo:NAME`` or a ``.ckpt`` of the same method into this detector."""
        from lightning_occ.zoo import ZooError, pretrained_state

        state = pretrained_state(source, type(self))
        try:
            self.load_state_dict(state)
        except RuntimeError as error:
            detail = str(error).strip().splitlines()[-1].strip()
            raise ZooError(f"pretrained={source!r} does not fit this {type(self).__name__} ({detail}); build it with "
                           "the entry's hyper-parameters (`lightning-occ zoo info NAME`).") from None

    def on_train_start(self) -> None:
        """When resuming ``fit``, continue the random streams (negatives, noise) where the checkpoint left them."""
        states = getattr(self, "_resume_rng_states", None)
        if states is not None:
            restore_rng_states(states)
            self._resume_rng_states = None

    def forward(self, x: Tensor) -> Tensor:
        return self.score(x)

    def certificate_description(self) -> str | None:
        """How the certified AUROC is certified (shown in reports), or None when it is not."""
        bound = self.lipschitz_bound
        return None if bound is None else f"Lipschitz bound of the score {bound:.6f}"

    def evaluation_step(self, metric: CertifiedAUROC, batch: Sequence[Tensor]) -> None:
        """Add one evaluation batch to ``metric`` (override to add certified bounds)."""
        scores, error = self.certified_scores(batch[0])
        metric.update(scores, batch[1], score_error=error)

    def attacked_score(self, x: Tensor) -> Tensor:
        """The function the attack check attacks: the one the certificate is about."""
        return self.certified_scores(x)[0]

    def validation_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        self.evaluation_step(self.val_certified, batch)

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        self.evaluation_step(self.test_certified, batch)
        if self.attacked_metrics is not None:
            with torch.inference_mode(False):
                x, target = batch[0].clone(), batch[1].clone()
                for eps, metric in zip(self.epsilons, self.attacked_metrics):
                    metric.update(pgd_attack_scores(self.attacked_score, x, target, eps, self.attack_settings), target)

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.score(x)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._finish_evaluation("val", self.val_certified)
        self.val_certified.reset()

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test", self.test_certified)
        self.test_certified.reset()

    def compute_evaluation(self, stage: str, metric: CertifiedAUROC) -> Evaluation:
        """Turn the synchronised ``metric`` into an :class:`Evaluation` (override with ``evaluation_step``)."""
        bound = self.lipschitz_bound
        metric.lipschitz = bound if bound is not None else 0.0
        if bound is not None and not metric.has_score_error():
            raise RuntimeError(f"{type(self).__name__} claims a Lipschitz bound but its certified_scores() gave no "
                               "rounding bound; see the floating-point policy in lightning_occ.nn.rounding.")
        certified = metric.compute()
        with metric.sync_context():
            scores, target = dim_zero_cat(metric.scores).cpu(), dim_zero_cat(metric.target).cpu()
            error = float(dim_zero_cat(metric.score_error).max()) if metric.has_score_error() else None
        return Evaluation(stage, scores, target, self.epsilons, certified.cpu(), bound, self.certificate_description(),
                          score_error=error)

    def _finish_evaluation(self, stage: str, metric: CertifiedAUROC) -> None:
        self.last_evaluation = self.compute_evaluation(stage, metric)
        if stage == "test" and self.attacked_metrics is not None:
            attacked = torch.cat([m.compute().cpu().reshape(-1) for m in self.attacked_metrics])
            self.last_evaluation.other_curves[ATTACKED_CURVE] = attacked
            for eps, value, m in zip(self.epsilons[1:], attacked[1:].tolist(), list(self.attacked_metrics)[1:]):
                self.log(f"{stage}/attacked_auroc@{eps:g}", value)
            for m in self.attacked_metrics:
                m.reset()
        bound = self.lipschitz_bound
        for name, value in self.last_evaluation.metrics().items():
            self.log(name, value)
        if bound is not None:
            self.log(f"{stage}/lipschitz_bound", bound)
