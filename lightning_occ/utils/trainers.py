"""A Trainer that prints nothing and writes nothing, for scripts, benchmarks, tests and the zoo."""

from __future__ import annotations

from typing import Any

import lightning as L

__all__ = ["quiet_trainer"]


def quiet_trainer(**overrides: Any) -> L.Trainer:
    """``lightning.Trainer`` without logger, checkpoints, progress bar, model summary or sanity check,
    on one device; any Trainer argument overrides these defaults.

    Example:
        >>> quiet_trainer(max_epochs=2, accelerator="cpu").max_epochs
        2
    """
    options: dict[str, Any] = dict(
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    options.update(overrides)
    return L.Trainer(**options)
