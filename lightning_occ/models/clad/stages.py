"""The order and epoch budget of CLAD's training stages."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STAGES", "StagePlan"]

STAGES = ("autoencoder", "clustering", "classifier", "done")


@dataclass(frozen=True)
class StagePlan:
    """Epochs per stage and the last stage to train.

    Example:
        >>> plan = StagePlan(ae_epochs=3, dec_epochs=5, classifier_epochs=4, stop_after="clustering")
        >>> plan.remaining_epochs("autoencoder", epochs_done=1), plan.runs("classifier")
        (7, False)
    """

    ae_epochs: int
    dec_epochs: int
    classifier_epochs: int
    stop_after: str = "classifier"

    def __post_init__(self) -> None:
        if self.stop_after not in STAGES[:-1]:
            raise ValueError(f"stop_after must be one of {list(STAGES[:-1])}, got {self.stop_after!r}.")

    def epochs(self, stage: str) -> int:
        """The epoch budget of ``stage`` (a maximum for ``clustering``, which may converge earlier)."""
        return {"autoencoder": self.ae_epochs, "clustering": self.dec_epochs, "classifier": self.classifier_epochs}.get(
            stage, 0
        )

    def runs(self, stage: str) -> bool:
        return STAGES.index(stage) <= STAGES.index(self.stop_after)

    def is_last(self, stage: str) -> bool:
        return stage == self.stop_after

    def stage_finished(self, stage: str, epochs_done: int, converged: bool) -> bool:
        return epochs_done >= self.epochs(stage) or (stage == "clustering" and converged)

    def remaining_epochs(self, stage: str, epochs_done: int) -> int:
        """Epochs left from inside ``stage`` to the end of ``stop_after`` (at most, if clustering converges early)."""
        if stage == "done" or not self.runs(stage):
            return 0
        later = STAGES[STAGES.index(stage) + 1 : STAGES.index(self.stop_after) + 1]
        return max(self.epochs(stage) - epochs_done, 0) + sum(self.epochs(s) for s in later)
