"""kNN scores without cancellation (float32 candidate search, float64 recomputation) against the old
float32 ``torch.cdist`` scores, on the MNIST one-class bank, timed in one process (best of repeats).

    LIGHTNING_OCC_DATA=../shared/data python benchmarks/knn_distance_speed.py [--digit 0] [--queries 10000]

Writes ``benchmarks/results/knn_distance_speed.json``. Falls back to random [0, 1] images of MNIST's
size when the real MNIST is missing (the result file says which).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from timing import best_time, write_results  # benchmarks/ is on sys.path when run as a script

from lightning_occ.nn.nearest import knn_mean_distance

RESULTS = Path(__file__).parent / "results" / "knn_distance_speed.json"


def float32_cdist_scores(queries: torch.Tensor, bank: torch.Tensor, k: int, chunk_size: int = 1024) -> torch.Tensor:
    """The score as it was computed before the floating-point policy."""
    return torch.cat(
        [torch.cdist(chunk, bank).topk(k, dim=1, largest=False).values.mean(1) for chunk in queries.split(chunk_size)]
    )


def mnist_bank_and_queries(digit: int, queries: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        from lightning_occ.data.vision_sources import load_images

        table = load_images("mnist")
        bank = table.train_images[table.train_labels == digit].flatten(1).float() / 255
        return bank, table.test_images[:queries].flatten(1).float() / 255, f"MNIST, digit {digit} bank"
    except Exception:  # no MNIST offline: same sizes, random pixels
        g = torch.Generator().manual_seed(0)
        return torch.rand(5923, 784, generator=g), torch.rand(queries, 784, generator=g), "random 784-d points"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digit", type=int, default=0)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bank, queries, data = mnist_bank_and_queries(args.digit, args.queries)
    reference = best_time(lambda: float32_cdist_scores(queries, bank, args.k), args.repeats)
    exact = best_time(lambda: knn_mean_distance(queries, bank, args.k), args.repeats)
    difference = knn_mean_distance(queries, bank, args.k) - float32_cdist_scores(queries, bank, args.k).double()
    result = {
        "data": data,
        "bank": list(bank.shape),
        "queries": queries.shape[0],
        "k": args.k,
        "threads": torch.get_num_threads(),
        "float32_cdist_s": reference,
        "exact_s": exact,
        "ratio": exact / reference,
        "max_abs_score_change": float(difference.abs().max()),
    }
    write_results(RESULTS, result)
    print(
        f"{data}: bank {tuple(bank.shape)}, {queries.shape[0]:,} queries, k={args.k}, {torch.get_num_threads()} threads"
    )
    print(f"  float32 cdist (old)          {reference:7.3f} s   1.00x")
    print(f"  exact (float32 search + f64) {exact:7.3f} s   {exact / reference:.2f}x")
    print(f"  largest score change: {result['max_abs_score_change']:.2e}")


if __name__ == "__main__":
    main()
