"""ODIN candidate scoring on one validation batch: the shared-gradient grid (``odin_grid_scores``, what CLAD's
validation runs) against scoring each (T, eps) pair alone with ``odin_scores``, in one process (best of repeats).

    python benchmarks/odin_grid_speed.py [--batch 126] [--repeats 5]

The classifier is the one of configs/clad/digits_cur.yaml (half-width ResNet-18, 8 px digits seen at 16 px, K = 15)
and the grid is that config's 4 temperatures x 7 steps. The two must give identical scores; the per-pair loop
costs one backward pass per pair with eps > 0, the grid one per temperature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml

from lightning_occ.models.clad.classifiers import create_classifier
from lightning_occ.models.clad.odin import odin_grid_scores, odin_scores

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_time  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "clad" / "digits_cur.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=126, help="images (the digits validation split is 126)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    settings = yaml.safe_load(CONFIG.read_text())["model"]["init_args"]
    torch.manual_seed(0)
    net = create_classifier(
        settings["classifier"],
        settings["num_clusters"],
        (1, 8, 8),
        input_size=settings["classifier_input_size"],
        **settings["classifier_kwargs"],
    ).eval()
    x = torch.rand(args.batch, 1, 8, 8)
    temperatures, steps = settings["temperature"], settings["odin_eps"]

    def per_pair() -> dict:
        return {(t, e): odin_scores(net, x, t, e) for t in temperatures for e in steps}

    def grid() -> dict:
        return odin_grid_scores(net, x, temperatures, steps)

    reference, shared = per_pair(), grid()
    same = all(torch.equal(scores, shared[pair]) for pair, scores in reference.items())
    t_pairs, t_grid = best_time(per_pair, args.repeats), best_time(grid, args.repeats)
    print(f"torch threads: {torch.get_num_threads()}; {len(temperatures)} x {len(steps)} pairs, {args.batch} images")
    print(
        f"per pair {t_pairs:.3f} s, grid {t_grid:.3f} s: grid / per pair = {t_grid / t_pairs:.2f} "
        f"(identical scores: {same})"
    )


if __name__ == "__main__":
    main()
