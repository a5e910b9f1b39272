"""ResumeRandomState: a resumed fit continues the random streams where the checkpoint left them."""

from __future__ import annotations

from typing import Any

import lightning as L

from lightning_occ.utils.rng import capture_rng_states, restore_rng_states

__all__ = ["ResumeRandomState"]


class ResumeRandomState(L.Callback):
    """Saves every random generator's state (torch CPU/CUDA, numpy, Python) in each checkpoint and
    restores it when ``fit`` resumes from that checkpoint, so OCSDF's negatives and a VAE's noise
    continue as in an uninterrupted run. The ``lightning-occ`` trainer adds it.

    The states are tensors and numbers only: the checkpoint still loads with ``weights_only=True``.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return "ResumeRandomState"

    def state_dict(self) -> dict[str, Any]:
        return {"rng_states": capture_rng_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("rng_states")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            restore_rng_states(self._pending)
            self._pending = None
