"""Choosing ODIN's temperature and input step on validation data (never on the test split)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from lightning_occ.metrics.exact_auroc import ExactAUROC
from lightning_occ.models.clad.odin import odin_grid_scores

__all__ = ["ODINSettings", "as_grid"]


def as_grid(value: float | Sequence[float], name: str, minimum: float, strict: bool) -> list[float]:
    """One value or a list of candidates, each checked against ``minimum``."""
    values = [float(v) for v in (value if isinstance(value, Sequence) else [value])]
    if not values or any(v < minimum or (strict and v == minimum) for v in values):
        relation = ">" if strict else ">="
        raise ValueError(f"Every {name} must be {relation} {minimum:g}, got {value}.")
    return values


class ODINSettings(nn.Module):
    """The (T, eps) used for scoring, and, when several candidates are given, their validation AUROCs.

    With one temperature and one step the settings are fixed. With candidate lists every pair is
    scored on each validation epoch (DDP-synchronised AUROC per pair) and the best pair becomes the
    one used for scoring (first best on ties). The choice lives in buffers, so it is saved in
    checkpoints with the weights it was made for.

    Example:
        >>> settings = ODINSettings([1.0, 1000.0], [0.0, 0.01])
        >>> settings.searching, len(settings.pairs), settings.current()
        (True, 4, (1.0, 0.0))
    """

    temperature: Tensor
    epsilon: Tensor

    def __init__(self, temperatures: Sequence[float], epsilons: Sequence[float]) -> None:
        super().__init__()
        self.temperatures, self.epsilons = list(temperatures), list(epsilons)
        self.pairs = list(itertools.product(temperatures, epsilons))
        self.register_buffer("temperature", torch.tensor(float(temperatures[0]), dtype=torch.float64))
        self.register_buffer("epsilon", torch.tensor(float(epsilons[0]), dtype=torch.float64))
        self.metrics: list[ExactAUROC] = cast(
            list[ExactAUROC],
            nn.ModuleList(ExactAUROC() for _ in self.pairs) if len(self.pairs) > 1 else nn.ModuleList(),
        )

    @property
    def searching(self) -> bool:
        return len(self.pairs) > 1

    def current(self) -> tuple[float, float]:
        return float(self.temperature), float(self.epsilon)

    def update(self, classifier: nn.Module, x: Tensor, target: Tensor) -> None:
        scores = odin_grid_scores(classifier, x, self.temperatures, self.epsilons)
        for pair, metric in zip(self.pairs, self.metrics):
            metric.update(scores[pair], target)

    def reset(self) -> None:
        for metric in self.metrics:
            metric.reset()

    def select(self) -> dict[tuple[float, float], float] | None:
        """Adopt the pair with the best validation AUROC; returns every pair's AUROC (None if not searching
        or nothing was seen)."""
        if not self.searching or not self.metrics[0].update_count:
            return None
        aurocs = {pair: float(metric.compute()) for pair, metric in zip(self.pairs, self.metrics)}
        self.reset()
        temperature, epsilon = max(aurocs, key=lambda pair: aurocs[pair])
        self.temperature.fill_(temperature)
        self.epsilon.fill_(epsilon)
        return aurocs
