"""Smoothing certifiers, timed against their physical limits in one process (best of repeats).

(a) PercentileSmoothing throughput / raw batched forward throughput of the same model at the same
    number of noisy samples (the forward passes are the floor; goal >= 0.8).
(b) Center smoothing's centre search (n outputs of dimension d, chunked distance blocks) against
    the per-sample loop in benchmarks/center_search_loop.py.

    python benchmarks/smoothing_speed.py [--inputs 16] [--n 2000] [--centre_n 10000] [--dim 784]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from lightning_occ.certify import PercentileSmoothing
from lightning_occ.certify.metrics_space import chunked_median_distances, l2_distance
from lightning_occ.models import OCSDF

sys.path.insert(0, str(Path(__file__).parent))
from center_search_loop import loop_median_distances  # noqa: E402
from timing import best_time  # noqa: E402


def conv_net() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 49, 1),
        nn.Flatten(0),
    )


def throughput_ratio(name: str, score, dim: int, inputs: int, n: int, chunk: int, repeats: int) -> float:
    x = torch.rand(inputs, dim)
    smoother = PercentileSmoothing(sigma=0.25, n=n, epsilons=[0.25], chunk_size=chunk)
    noisy = torch.rand(inputs * n, dim)

    @torch.no_grad()
    def raw() -> None:
        for start in range(0, noisy.shape[0], chunk):
            score(noisy[start : start + chunk])

    raw()
    t_raw = best_time(raw, repeats)
    t_smooth = best_time(lambda: smoother.certify(score, x), repeats)
    ratio = t_raw / t_smooth
    print(f"| {name} | {inputs} x {n} | {inputs * n / t_raw:,.0f} /s | {inputs * n / t_smooth:,.0f} /s | {ratio:.2f} |")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=16)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--centre_n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=784)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch threads: {torch.get_num_threads()}\n")
    print("| model | inputs x n | raw forward | percentile smoothing | ratio |\n|---|---|---|---|---|")
    ocsdf = OCSDF(in_features=30, width=512, depth=4).eval()
    throughput_ratio("OCSDF 512x4, 30 features", ocsdf.score, 30, args.inputs, args.n, args.chunk, args.repeats)
    throughput_ratio("conv net, 28x28", conv_net().eval(), 784, args.inputs, args.n, args.chunk, args.repeats)

    outputs = torch.randn(args.centre_n, args.dim)
    t_chunked = best_time(lambda: chunked_median_distances(l2_distance, outputs, outputs), args.repeats)
    t_loop = best_time(lambda: loop_median_distances(outputs), 1)
    same = torch.allclose(
        chunked_median_distances(l2_distance, outputs, outputs), loop_median_distances(outputs), rtol=1e-4
    )
    print(
        f"\ncentre search, n={args.centre_n}, dim={args.dim}: chunked {t_chunked:.2f} s, per-sample loop "
        f"{t_loop:.2f} s ({t_loop / t_chunked:.1f}x faster; same medians: {same})"
    )


if __name__ == "__main__":
    main()
