"""How loose center smoothing's certificate is: certified output radius over the true worst change of
the smoothed output, for f(x) = x (the smoothed output is x itself, so the worst change at input
radius eps is exactly eps), with the library defaults and with the paper's n_cert = 10^6.

    python benchmarks/center_smoothing_tightness.py

Writes ``benchmarks/results/center_smoothing_tightness.json``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from timing import write_results  # benchmarks/ is on sys.path when run as a script

from lightning_occ.certify import CenterSmoothing

RESULTS = Path(__file__).parent / "results" / "center_smoothing_tightness.json"
SETTINGS = {
    "library defaults (n_pred 1e4, n_cert 1e4)": {"n_pred": 10_000, "n_cert": 10_000},
    "paper (n_pred 1e4, n_cert 1e6)": {"n_pred": 10_000, "n_cert": 1_000_000},
}


def main() -> None:
    rows = []
    for dimension in (2, 10):
        for name, sizes in SETTINGS.items():
            smoother = CenterSmoothing(sigma=0.25, epsilons=[0.1, 0.25], num_candidates=2000, **sizes)
            certificate = smoother.certify(lambda z: z, torch.zeros(1, dimension))
            ratios = (certificate.radius[0] / torch.tensor(smoother.epsilons, dtype=torch.float64)).tolist()
            rows.append(
                {
                    "output_dimension": dimension,
                    "settings": name,
                    "epsilons": smoother.epsilons,
                    "certified_radius": certificate.radius[0].tolist(),
                    "ratio_to_true_worst_change": ratios,
                }
            )
            print(f"d={dimension:>2}  {name:<42} certified / true: " + "  ".join(f"{r:5.1f}x" for r in ratios))
    write_results(RESULTS, rows)


if __name__ == "__main__":
    main()
