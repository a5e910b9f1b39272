"""AttackCheck: a callback that reports the PGD-attacked AUROC next to the certified one."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import ATTACKED_CURVE, Evaluation
from lightning_occ.metrics import ExactAUROC
from lightning_occ.utils.attacks import PGDSettings, pgd_attack_scores

__all__ = ["AttackCheck"]


class AttackCheck(L.Callback):
    """During ``test``, attack every sample with l2 PGD at each of the detector's radii.

    The report then shows, per radius, the certified AUROC (a guarantee), the attacked AUROC (what
    an attack actually achieves) and the clean AUROC; for a sound certificate
    ``certified <= attacked <= clean``. Logged as ``test/attacked_auroc@{eps}`` and added to the
    test :class:`~lightning_occ.core.evaluation.Evaluation` as the curve ``"attacked AUROC (PGD)"``.
    The attack differentiates the score, so the Trainer needs ``inference_mode=False``.

    Args:
        steps: PGD steps per radius.
        low: the lower end of a box the attacked inputs stay in (e.g. 0 for images).
        high: the upper end of that box (e.g. 1 for images).
        seed: seed of the random starts.

    Example (command line)::

        lightning-occ test --config configs/ocsdf/digits_cur.yaml --ckpt_path <ckpt> \\
            --trainer.callbacks+=lightning_occ.callbacks.AttackCheck --trainer.inference_mode false
    """

    def __init__(self, steps: int = 20, low: float | None = None, high: float | None = None, seed: int = 0) -> None:
        self.settings = PGDSettings(steps=steps, low=low, high=high, seed=seed)
        self.metrics: list[ExactAUROC] | None = None
        self.curve: Tensor | None = None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if isinstance(pl_module, AnomalyDetector):
            self.metrics = [ExactAUROC().to(pl_module.device) for _ in pl_module.epsilons]

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: object,
        batch: object,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.metrics is None or not isinstance(pl_module, AnomalyDetector):
            return
        with torch.inference_mode(False):
            x, target = (t.clone() for t in AnomalyBatch.of(batch).labelled())
            for eps, metric in zip(pl_module.epsilons, self.metrics):
                metric.update(pgd_attack_scores(pl_module.attacked_score, x, target, eps, self.settings), target)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.metrics is None or not isinstance(pl_module, AnomalyDetector):
            return
        self.curve = torch.stack([metric.compute().cpu() for metric in self.metrics])
        for eps, value in zip(pl_module.epsilons[1:], self.curve[1:].tolist()):
            pl_module.log(f"test/attacked_auroc@{eps:g}", value)
        self.metrics = None

    def on_evaluation(self, trainer: L.Trainer, detector: L.LightningModule, evaluation: Evaluation) -> None:
        if evaluation.stage == "test" and self.curve is not None:
            evaluation.other_curves[ATTACKED_CURVE] = self.curve
            self.curve = None
