"""Seeded, memory-bounded Monte-Carlo evaluation of ``fn(x + noise)``, ``noise ~ N(0, sigma^2 I)``.

Each input gets its own random stream, seeded from the certifier's seed and the input's bytes:
a sample's noise (hence its certificate) does not depend on the batch it came in, its position,
or the number of processes, as long as ``seed``, ``n`` and ``chunk_size`` are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from lightning_occ.certify.statistics import check_sigma

__all__ = ["input_seed", "noisy_outputs"]


def input_seed(seed: int, x: Tensor) -> int:
    """A 63-bit seed derived from ``seed`` and the exact bytes of one input."""
    digest = hashlib.blake2b(digest_size=8, key=int(seed).to_bytes(8, "little", signed=True))
    digest.update(x.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    return int.from_bytes(digest.digest(), "little") & (2**63 - 1)


def _generators(seed: int, x: Tensor) -> list[torch.Generator]:
    return [torch.Generator(device=x.device).manual_seed(input_seed(seed, row)) for row in x]


@torch.no_grad()
def noisy_outputs(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    n: int,
    sigma: float,
    chunk_size: int = 4096,
    seed: int = 0,
    progress: bool = False,
) -> Tensor:
    """Evaluate ``fn`` on n noisy copies of every input of the batch ``x``.

    Args:
        fn: batch in, batch out, e.g. a detector's ``score`` (N,) or an encoder (N, D).
        x: inputs, shape (B, ...).
        n: noisy copies per input.
        sigma: noise standard deviation (input units).
        chunk_size: at most this many noisy inputs go through ``fn`` at once (bounds memory).
        seed: same seed, same noise for the same input.
        progress: show a progress bar over the forward passes.

    Returns:
        ``fn``'s outputs, shape (B, n, *output_shape).

    Example:
        >>> x = torch.zeros(2, 3)
        >>> noisy_outputs(lambda z: z.sum(1), x, n=5, sigma=1.0).shape
        torch.Size([2, 5])
    """
    check_sigma(sigma)
    if n < 1 or chunk_size < 1:
        raise ValueError(f"n and chunk_size must be >= 1, got n={n}, chunk_size={chunk_size}.")
    generators = _generators(seed, x)
    shape = tuple(x.shape[1:])
    bar = tqdm(total=x.shape[0] * n, desc="noisy forward passes", unit="pass", disable=not progress, leave=False)

    def run(rows: range, draws: int) -> Tensor:
        noise = torch.cat(
            [torch.randn((draws, *shape), generator=generators[i], device=x.device, dtype=x.dtype) for i in rows]
        )
        noisy = noise.mul_(sigma).add_(x[rows.start : rows.stop].repeat_interleave(draws, dim=0))
        out = fn(noisy)
        bar.update(noisy.shape[0])
        return out.reshape(len(rows), draws, *out.shape[1:])

    try:
        if n <= chunk_size:  # several inputs per forward pass
            group = chunk_size // n
            parts = [run(range(i, min(i + group, x.shape[0])), n) for i in range(0, x.shape[0], group)]
            return torch.cat(parts)
        per_input = []
        for i in range(x.shape[0]):
            blocks = [run(range(i, i + 1), min(chunk_size, n - s)) for s in range(0, n, chunk_size)]
            per_input.append(torch.cat(blocks, dim=1))
        return torch.cat(per_input)
    finally:
        bar.close()
