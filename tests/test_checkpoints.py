"""Checkpoints users can reason about: with a monitored best.ckpt, last.ckpt is still the last epoch,
overwritten in place, and `--ckpt_path last` resumes from it."""

from __future__ import annotations

from pathlib import Path

import torch

from lightning_occ.cli import build_cli

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "--model.init_args.width",
    "16",
    "--model.init_args.depth",
    "1",
    "--model.init_args.warmup_epochs",
    "2",
    "--trainer.check_val_every_n_epoch",
    "3",
    "--trainer.logger",
    "false",
    "--trainer.enable_progress_bar",
    "false",
    "--report.enabled",
    "false",
]


def fit(epochs: int, *extra: str) -> None:
    build_cli(
        [
            "fit",
            "--config",
            str(ROOT / "configs/ocsdf/breast_cancer.yaml"),
            *SMALL,
            "--trainer.max_epochs",
            str(epochs),
            *extra,
        ]
    )


def test_last_ckpt_is_the_final_epoch_next_to_the_best_one_and_resumes():
    fit(10)
    folder = Path("results/ocsdf_breast_cancer/checkpoints")
    last = torch.load(folder / "last.ckpt", weights_only=True)
    best = torch.load(folder / "best.ckpt", weights_only=True)
    # saved at the end of the tenth and final training epoch (Lightning then records 10 epochs done),
    # whatever the validation AUROC did; best.ckpt comes from a validation run inside an epoch
    assert last["epoch"] == 10 and last["global_step"] > best["global_step"]
    assert best["epoch"] in (2, 5, 8)  # an epoch with a validation run
    fit(12, "--ckpt_path", "last")
    assert torch.load(folder / "last.ckpt", weights_only=True)["epoch"] == 12  # resumed and went on
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt", "last.ckpt"]  # overwritten: no -v1 files
