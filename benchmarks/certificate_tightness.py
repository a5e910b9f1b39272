"""How tight each certificate is: attacked minus certified AUROC at each radius, for the zoo's certified
detectors and for kNN (k=5) on the same splits, plus a percentile-smoothed kNN on breast cancer.

The attack is :func:`lightning_occ.utils.attacks.strongest_attack_scores` (PGD with 3 random starts and one
APGD run, 30 steps each, pixels kept in [0, 1] for images) on the function the certificate is about
(``certified_scores``). A gap >= 0 everywhere is what soundness requires; its size is the looseness.

    LIGHTNING_OCC_DATA=../shared/data python benchmarks/certificate_tightness.py [--limit 1000]

Writes ``benchmarks/results/certificate_tightness.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from timing import write_results  # benchmarks/ is on sys.path when run as a script

import lightning_occ as lo
from lightning_occ.certify import PercentileSmoothing
from lightning_occ.metrics.functional import certified_auroc, exact_auroc
from lightning_occ.models import KNNDetector
from lightning_occ.utils.attacks import strongest_attack_scores
from lightning_occ.zoo.evaluate import build_datamodule

RESULTS = Path(__file__).parent / "results" / "certificate_tightness.json"
ENTRIES = [
    "ocsdf-breast-cancer",
    "ocsdf-digits-cur",
    "ocsdf-digits-str",
    "ocsdf-digits-mix",
    "vae-digits-cur",
    "vae-digits-str",
    "vae-digits-mix",
    "ocsdf-mnist-0",
]


def test_split(datamodule, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    datamodule.setup("test")
    x, y = (torch.cat(parts) for parts in zip(*[(b[0], b[1]) for b in datamodule.test_dataloader()]))
    if len(y) > limit:  # a stratified random subset: the attack's cost grows with the split
        keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:limit]
        x, y = x[keep], y[keep]
    return x, y


def measure(name: str, detector, x, y, radii, box) -> dict:
    scores, error = detector.certified_scores(x)
    certified = certified_auroc(scores, y, radii, lipschitz=detector.lipschitz_bound, score_error=error).tolist()
    attacked = [
        float(exact_auroc(strongest_attack_scores(detector.attacked_score, x, y, eps, low=box[0], high=box[1]), y))
        for eps in radii
    ]
    row = {
        "detector": name,
        "radii": radii,
        "certified": certified,
        "attacked": attacked,
        "attacked_minus_certified": [a - c for a, c in zip(attacked, certified)],
        "lipschitz_bound": detector.lipschitz_bound,
        "max_rounding_error": float(error.max()),
        "n": len(y),
    }
    print(
        f"{name:<28} "
        + "  ".join(f"eps {e:.3g}: {c:.3f}/{a:.3f} (+{a - c:.3f})" for e, c, a in zip(radii, certified, attacked))
    )
    return row


def smoothed_knn_row(limit: int) -> dict:
    datamodule = build_datamodule(lo.zoo.get_info("ocsdf-breast-cancer")["data"])
    x, y = test_split(datamodule, limit)
    knn = KNNDetector(k=5)
    knn.fit_bank(datamodule.train_features())
    radii = [0.1, 0.25]
    certificate = PercentileSmoothing(sigma=0.25, n=2000, epsilons=radii).certify(knn.score, x)
    certified = [
        float(
            certified_auroc(
                None, y, [eps], lower=certificate.lower[:, k : k + 1], upper=certificate.upper[:, k : k + 1]
            )[0]
        )
        for k, eps in enumerate(radii)
    ]
    fresh = PercentileSmoothing(sigma=0.25, n=2000, epsilons=[0.0], seed=1)
    attacked = []
    for eps in radii:  # move the inputs by PGD on the base score, then smooth at the moved points
        moved = x.clone().requires_grad_(True)
        sign = torch.where(y.bool(), -1.0, 1.0).to(torch.float64)
        for _ in range(20):
            (grad,) = torch.autograd.grad((knn.score(moved) * sign).sum(), moved)
            with torch.no_grad():
                moved += 0.25 * eps * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
                delta = moved - x
                moved.copy_(x + delta * (eps / delta.norm(dim=1, keepdim=True).clamp_min(1e-12)).clamp(max=1.0))
        smoothed = fresh.certify(knn.score, moved.detach()).score
        attacked.append(float(exact_auroc(smoothed, y)))
    row = {
        "detector": "kNN + percentile smoothing (breast cancer)",
        "radii": radii,
        "certified": certified,
        "attacked": attacked,
        "attacked_minus_certified": [a - c for a, c in zip(attacked, certified)],
        "n": len(y),
    }
    print(
        f"{row['detector']:<28} "
        + "  ".join(f"eps {e:.3g}: {c:.3f}/{a:.3f} (+{a - c:.3f})" for e, c, a in zip(radii, certified, attacked))
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=1000, help="test samples per split (stratified subset)")
    args = parser.parse_args()
    rows = []
    for name in ENTRIES:
        info = lo.zoo.get_info(name)
        try:
            datamodule = build_datamodule(info["data"])
            x, y = test_split(datamodule, args.limit)
        except Exception as error:  # e.g. MNIST missing offline
            print(f"{name}: skipped ({error})")
            continue
        detector = lo.zoo.load(name)
        radii = [e for e in detector.epsilons if e > 0]
        box = (0.0, 1.0) if x.dim() == 4 else (None, None)
        rows.append(measure(name, detector, x, y, radii, box))
        knn = KNNDetector(k=5, epsilons=radii)
        knn.fit_bank(datamodule.train_features())
        knn_name = f"kNN k=5 ({info['data']['init_args'].get('dataset')} {info['data']['init_args'].get('normal', '')})"
        if all(r["detector"] != knn_name for r in rows):
            rows.append(measure(knn_name.strip(), knn, x, y, radii, box))
    rows.append(smoothed_knn_row(args.limit))
    write_results(RESULTS, rows)


if __name__ == "__main__":
    main()
