"""PretrainedWeights: initialise a new fit from ``zoo:NAME`` or a checkpoint of the same method."""

from __future__ import annotations

import lightning as L

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.zoo import ZooError, pretrained_state

__all__ = ["PretrainedWeights"]


class PretrainedWeights(L.Callback):
    """At the start of ``fit``, copy the weights named by the detector's ``pretrained`` argument into
    it (fine-tuning); skipped when the fit resumes from ``ckpt_path``. The ``lightning-occ`` trainer
    adds it. Then the detector's ``on_pretrained_loaded`` hook runs (CLAD resets its training stages)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not isinstance(pl_module, AnomalyDetector) or not pl_module.pretrained or trainer.ckpt_path is not None:
            return
        source = pl_module.pretrained
        state = pretrained_state(source, type(pl_module))
        try:
            pl_module.load_state_dict(state)
        except RuntimeError as error:
            detail = str(error).strip().splitlines()[-1].strip()
            raise ZooError(
                f"pretrained={source!r} does not fit this {type(pl_module).__name__} ({detail}); build it "
                "with the entry's hyper-parameters (`lightning-occ zoo info NAME`)."
            ) from None
        pl_module.pretrained_loaded = True
        pl_module.on_pretrained_loaded()
