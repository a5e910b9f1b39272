"""Networks kept Lipschitz by re-projecting their constrained layers after every optimiser step."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ProjectedNetwork"]


class ProjectedNetwork(nn.Module):
    """A network whose layers of the types in ``constrained_types`` each have ``project_(tol, max_iter)``
    (re-projection onto their constraint set) and ``lipschitz_bound()``; ``self.layers`` holds them."""

    constrained_types: tuple[type[nn.Module], ...] = ()
    layers: nn.Sequential

    def constrained_layers(self) -> list[Any]:
        """The layers with ``project_`` and ``lipschitz_bound`` (typed loosely: torch modules are dynamic)."""
        return [m for m in self.layers if isinstance(m, self.constrained_types)]

    @torch.no_grad()
    def project_(self, tol: float = 1e-6, max_iter: int = 1) -> None:
        """Re-project every constrained layer: one cheap iteration after each optimiser step, or, with
        ``max_iter > 1``, until the layer's norm is proven at most 1."""
        for layer in self.constrained_layers():
            layer.project_(tol, max_iter)
