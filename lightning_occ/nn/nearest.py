"""Nearest-neighbour distances computed without cancellation: what the kNN certificate is about.

``torch.cdist`` (and any ``|a|^2 + |b|^2 - 2 a.b`` formula) loses the small distances to
cancellation: in float32 next to a bank point the error reached 1.3e-3, so pairs 1e-4 apart showed
slopes of 14 against a proven Lipschitz constant of 1. Here the fast float32 matrix product only
*selects candidates*; the distances that make the score are recomputed from the differences
``a - b`` in float64, and the selection is proven to contain the true k nearest points (else the
query is redone against the whole bank). The result is the exact k-NN mean distance up to a
relative float64 error :func:`knn_relative_error` (see :mod:`lightning_occ.nn.rounding`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_occ.nn.rounding import gamma, matmul_unit_roundoff, unit_roundoff

__all__ = ["BankDistance", "exact_knn", "knn_mean_distance", "knn_relative_error"]

EXTRA_CANDIDATES = 4  # enough on MNIST (every query separated); others fall back to the whole bank


def _difference_distances(queries: Tensor, points: Tensor) -> Tensor:
    """``||q_i - p_ij||`` in float64 summed from the differences (``cdist`` without its matrix-product
    shortcut): ``points`` is (B, m, D), one set per query, or (M, D), shared; returns (B, m) or (B, M)."""
    q = queries.to(torch.float64)
    p = points.to(torch.float64)
    if p.dim() == 3:
        return torch.cdist(q.unsqueeze(1), p, compute_mode="donot_use_mm_for_euclid_dist").squeeze(1)
    return torch.cdist(q, p, compute_mode="donot_use_mm_for_euclid_dist")


def _exact_against_bank(queries: Tensor, bank: Tensor, k: int, block: int = 512) -> tuple[Tensor, Tensor]:
    """The k smallest exact distances to the whole bank, in blocks of bank rows."""
    best_values = queries.new_zeros(queries.shape[0], 0, dtype=torch.float64)
    best_indices = torch.zeros(queries.shape[0], 0, dtype=torch.long, device=bank.device)
    for start in range(0, bank.shape[0], block):
        values = _difference_distances(queries, bank[start : start + block])
        indices = torch.arange(start, start + values.shape[1], device=bank.device).expand_as(values)
        values, indices = torch.cat([best_values, values], 1), torch.cat([best_indices, indices], 1)
        keep = values.topk(min(k, values.shape[1]), dim=1, largest=False)
        best_values, best_indices = keep.values, indices.gather(1, keep.indices)
    return best_values, best_indices


def exact_knn(queries: Tensor, bank: Tensor, k: int, chunk_size: int = 1024) -> tuple[Tensor, Tensor]:
    """The k nearest bank rows of each query: float64 distances (ascending) and their indices.

    Candidates: the ``k + 4`` smallest float32 squared distances ``|q|^2 + |b|^2 - 2 q.b``, whose error
    is at most ``delta = gamma_{D+3} (|q| + max|b|)^2`` (``D`` the dimension; the matrix product's unit
    roundoff follows :func:`~lightning_occ.nn.rounding.matmul_unit_roundoff`). If the last candidate's
    approximate squared distance exceeds the k-th one's by more than ``2 delta``, every point left out
    is exactly farther than k candidates, so the candidates hold a true k-nearest set; otherwise the
    query is recomputed against the whole bank. Distances are then recomputed from differences.

    Args:
        queries: (N, D).
        bank: (M, D), M >= k.
        k: number of neighbours.
        chunk_size: queries per block (memory: ``chunk_size * (M + (k + 32) * D)`` numbers).

    Example:
        >>> values, indices = exact_knn(torch.tensor([[0.0, 0.1]]), torch.tensor([[0.0, 0.0], [3.0, 4.0]]), k=1)
        >>> values, indices
        (tensor([[0.1000]], dtype=torch.float64), tensor([[0]]))
    """
    if queries.dim() != 2 or bank.dim() != 2 or queries.shape[1] != bank.shape[1]:
        raise ValueError(
            f"exact_knn needs (N, D) queries and an (M, D) bank, got {tuple(queries.shape)} and {tuple(bank.shape)}."
        )
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f"k={k} must be between 1 and the bank size {bank.shape[0]}.")
    dimension, m = bank.shape[1], min(bank.shape[0], k + EXTRA_CANDIDATES)
    search_bank = bank.detach().to(torch.float32)
    bank_squares = search_bank.pow(2).sum(1)
    delta_factor = gamma(dimension + 3, matmul_unit_roundoff(torch.float32))  # >= float32's own u
    largest_bank_norm = float(bank_squares.max().sqrt()) if bank.shape[0] else 0.0
    all_values, all_indices = [], []
    for chunk in queries.split(chunk_size):
        search = chunk.detach().to(torch.float32)
        query_squares = search.pow(2).sum(1)
        approximate = torch.addmm(query_squares[:, None] + bank_squares[None, :], search, search_bank.T, alpha=-2.0)
        candidates = approximate.topk(m, dim=1, largest=False)
        delta = delta_factor * (query_squares.sqrt() + largest_bank_norm) ** 2
        separated = candidates.values[:, -1] - candidates.values[:, k - 1] > 2 * delta
        if m == bank.shape[0]:
            separated = torch.ones_like(separated)  # every bank row is a candidate
        values = _difference_distances(chunk, bank[candidates.indices])
        nearest = values.topk(k, dim=1, largest=False)
        values, indices = nearest.values, candidates.indices.gather(1, nearest.indices)
        if not bool(separated.all()):
            redo = (~separated).nonzero().flatten()
            redone_values, redone_indices = _exact_against_bank(chunk[redo], bank, k)
            values, indices = values.index_put((redo,), redone_values), indices.index_put((redo,), redone_indices)
        all_values.append(values)
        all_indices.append(indices)
    if not all_values:
        return queries.new_zeros(0, k, dtype=torch.float64), torch.zeros(0, k, dtype=torch.long, device=queries.device)
    return torch.cat(all_values), torch.cat(all_indices)


def knn_mean_distance(queries: Tensor, bank: Tensor, k: int, chunk_size: int = 1024) -> Tensor:
    """Mean l2 distance (float64) from each query to its k nearest rows of ``bank`` (:func:`exact_knn`).

    Example:
        >>> knn_mean_distance(torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 0.0], [1.0, 0.0]]), k=1)
        tensor([2.], dtype=torch.float64)
    """
    return exact_knn(queries, bank, k, chunk_size)[0].mean(1)


def knn_relative_error(dimension: int, k: int) -> float:
    """A relative bound on the float64 rounding of :func:`knn_mean_distance`: ``gamma_{D+k+4}``.

    Proof sketch: each coordinate difference and square rounds once (relative u each), the sum of D
    non-negative squares adds ``gamma_{D-1}``, the square root halves the relative error and adds u,
    and the mean of k non-negative distances adds ``gamma_k``; relative errors of non-negative terms
    compose into ``gamma_{D+k+4}`` (Higham, Lemma 3.3).
    """
    return gamma(dimension + k + 4, unit_roundoff(torch.float64))


class BankDistance(nn.Module):
    """Mean l2 distance to the k nearest rows of a fixed bank, as one traceable graph (for export).

    Float64 throughout, with the distances from ``|q|^2 + |b|^2 - 2 q.b``: in float64 the cancellation
    costs about ``1e-16 |q|^2 / d`` on a distance d, far below the 1e-5 agreement an exported model
    is held to (:func:`knn_mean_distance`, which inference uses, avoids it entirely). With
    ``spacing``, the mean is divided by the nearest bank row's spacing (CompactVAE's normalised hole).

    Example:
        >>> BankDistance(torch.tensor([[0.0, 0.0], [1.0, 0.0]]), k=1)(torch.tensor([[0.0, 2.0]]))
        tensor([2.], dtype=torch.float64)
    """

    bank: Tensor
    bank_squared: Tensor
    spacing: Tensor | None

    def __init__(self, bank: Tensor, k: int, spacing: Tensor | None = None) -> None:
        super().__init__()
        self.k = int(k)
        self.register_buffer("bank", bank.detach().to(torch.float64).clone())
        self.register_buffer("bank_squared", self.bank.pow(2).sum(1))
        self.register_buffer("spacing", None if spacing is None else spacing.detach().to(torch.float64).clone())

    def forward(self, queries: Tensor) -> Tensor:
        q = queries.flatten(1).to(torch.float64)
        squared = (q.pow(2).sum(1, keepdim=True) + self.bank_squared - 2 * q @ self.bank.T).clamp_min(0)
        nearest, indices = torch.topk(squared, self.k, dim=1, largest=False)
        mean = nearest.sqrt().mean(1)
        if self.spacing is None:
            return mean
        return mean / self.spacing[indices[:, 0]].clamp_min(1e-12)
