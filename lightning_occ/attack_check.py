"""AttackCheck: a callback that reports the PGD-attacked AUROC next to the certified one."""

from __future__ import annotations

import lightning as L

from lightning_occ.attacks import PGDSettings
from lightning_occ.detector import AnomalyDetector

__all__ = ["AttackCheck"]


class AttackCheck(L.Callback):
    """During ``test``, attack every sample with l2 PGD at each of the detector's radii.

    The report then shows, per radius, the certified AUROC (a guarantee), the attacked AUROC (what
    an attack actually achieves) and the clean AUROC; for a sound certificate
    ``certified <= attacked <= clean``. Logged as ``test/attacked_auroc@{eps}``.

    Args:
        steps: PGD steps per radius.
        low, high: a box the attacked inputs stay in (e.g. 0 and 1 for images).
        seed: seed of the random starts.

    Example (command line)::

        lightning-occ test --config configs/ocsdf/digits_cur.yaml --ckpt_path <ckpt> \\
            --trainer.callbacks+=lightning_occ.attack_check.AttackCheck --trainer.inference_mode false
    """

    def __init__(self, steps: int = 20, low: float | None = None, high: float | None = None, seed: int = 0) -> None:
        self.settings = PGDSettings(steps=steps, low=low, high=high, seed=seed)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "test" and isinstance(pl_module, AnomalyDetector):
            pl_module.enable_attack_check(self.settings)
