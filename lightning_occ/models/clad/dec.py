"""Deep Embedded Clustering (Xie et al., 2016): Student-t soft assignment and its sharpened target."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "PSEUDO_TARGETS",
    "DECHead",
    "check_target_kind",
    "classifier_targets",
    "sharpened_target",
    "student_t_assignment",
]

PSEUDO_TARGETS = ("hard", "soft", "sharpened")


def student_t_assignment(codes: Tensor, centres: Tensor, alpha: float = 1.0) -> Tensor:
    """q_ij proportional to (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2), rows summing to 1.

    Example:
        >>> student_t_assignment(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
        tensor([[0.6667, 0.3333]])
    """
    kernel = (1 + torch.cdist(codes, centres).pow(2) / alpha).pow(-(alpha + 1) / 2)
    return kernel / kernel.sum(dim=1, keepdim=True)


def sharpened_target(q: Tensor) -> Tensor:
    """p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with cluster frequencies f_j = sum_i q_ij."""
    weight = q.pow(2) / q.sum(dim=0)
    return weight / weight.sum(dim=1, keepdim=True)


def check_target_kind(kind: str) -> None:
    """Raise a clear error unless ``kind`` is one of :data:`PSEUDO_TARGETS`."""
    if kind not in PSEUDO_TARGETS:
        raise ValueError(f"pseudo_targets must be one of {PSEUDO_TARGETS} (argmax Q, Q, DEC's P), got {kind!r}.")


def classifier_targets(q: Tensor, kind: str) -> Tensor:
    """Classifier targets from a batch's soft assignment Q: ``hard`` the labels argmax Q, ``soft`` Q
    itself, ``sharpened`` DEC's target P of the batch (:func:`sharpened_target`), between the two.

    Example:
        >>> q = torch.tensor([[0.6, 0.4], [0.3, 0.7]])
        >>> classifier_targets(q, "hard").tolist(), classifier_targets(q, "soft") is q
        ([0, 1], True)
    """
    check_target_kind(kind)
    if kind == "hard":
        return q.argmax(dim=1)
    return q if kind == "soft" else sharpened_target(q)


class DECHead(nn.Module):
    """K learnable cluster centres in code space; ``forward`` gives the soft assignment Q.

    The loss is KL(P || Q) with P the (detached) sharpened target of the same batch, averaged over
    the batch. DEC's original recipe recomputes P on the whole dataset every few iterations; the
    per-batch target keeps the stage a plain shuffled-minibatch loop (also under DDP) and is what
    most PyTorch DEC implementations do.
    """

    def __init__(self, num_clusters: int, latent_dim: int, alpha: float = 1.0) -> None:
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"The Student-t degrees of freedom alpha must be > 0, got {alpha}.")
        self.alpha = alpha
        self.centres = nn.Parameter(torch.zeros(num_clusters, latent_dim))

    def forward(self, codes: Tensor) -> Tensor:
        return student_t_assignment(codes, self.centres, self.alpha)

    def loss(self, q: Tensor) -> Tensor:
        p = sharpened_target(q).detach()
        return (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(dim=1).mean()
