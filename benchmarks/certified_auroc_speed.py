"""CertifiedAUROC against torchmetrics' exact BinaryAUROC, timed in one process (best of repeats).

python benchmarks/certified_auroc_speed.py [--n 1000000] [--radii 64]
"""

from __future__ import annotations

import argparse

import torch
from timing import best_time  # benchmarks/ is on sys.path when run as a script
from torchmetrics.classification import BinaryAUROC

from lightning_occ.metrics import CertifiedAUROC


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--radii", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(args.n, generator=g) < 0.3).long()
    scores = torch.randn(args.n, generator=g) + target

    def run(metric):
        def go():
            metric.reset()
            metric.update(scores, target)
            return metric.compute()

        return go

    reference = best_time(run(BinaryAUROC(thresholds=None)), args.repeats)
    one = best_time(run(CertifiedAUROC([0.1], lipschitz=1.0)), args.repeats)
    curve = best_time(run(CertifiedAUROC(torch.linspace(0, 1, args.radii).tolist(), lipschitz=1.0)), args.repeats)
    print(f"N = {args.n:,}, torch threads {torch.get_num_threads()}")
    print(f"  BinaryAUROC(thresholds=None)      {reference * 1e3:8.1f} ms   1.00x")
    print(f"  CertifiedAUROC, 1 radius          {one * 1e3:8.1f} ms   {one / reference:.2f}x")
    print(f"  CertifiedAUROC, {args.radii} radii         {curve * 1e3:8.1f} ms   {curve / reference:.2f}x")


if __name__ == "__main__":
    main()
