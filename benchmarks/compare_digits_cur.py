"""OCSDF, kNN, CompactVAE and three PyOD detectors on digits CUR, certified side by side.

    python benchmarks/compare_digits_cur.py      # about 2 minutes on 2 CPU cores

Writes benchmarks/results/compare_digits_cur/{comparison.md, comparison.json, certified_auroc.png}.
"""

from __future__ import annotations

import os
from pathlib import Path

from lightning_occ.compare import compare

ROOT = Path(__file__).resolve().parents[1]
MODELS = [
    "ocsdf/digits_cur.yaml",
    "knn/digits_cur.yaml",
    "vae/digits_cur.yaml",
    "pyod/knn_digits_cur.yaml",
    "pyod/lof_digits_cur.yaml",
    "pyod/lunar_digits_cur.yaml",
]

if __name__ == "__main__":
    os.chdir(ROOT)  # configs and results as relative paths
    compare(
        "configs/knn/digits_cur.yaml", [f"configs/{m}" for m in MODELS], out="benchmarks/results/compare_digits_cur"
    )
