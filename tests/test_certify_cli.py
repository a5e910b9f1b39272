"""`lightning-occ certify` and SmoothedDetector on real checkpoints from `lightning-occ fit`."""

import csv
import json
from pathlib import Path

import pytest

from lightning_occ.certify import SmoothedDetector
from lightning_occ.cli import build_cli
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.data import TabularDataModule
from lightning_occ.models import OCSDF, KNNDetector
from lightning_occ.trainer import OCCTrainer

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]
CERTIFIER = ["--certifier.sigma", "1.0", "--certifier.n", "1000", "--certifier.alpha", "0.01"]


def fit(config: str, *extra: str) -> Path:
    build_cli(["fit", "--config", str(ROOT / config), *FAST, *extra])
    return next(Path("results").rglob("last.ckpt"))


def read_certificates(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_certify_a_knn_checkpoint_writes_per_sample_certificates(tmp_path, capsys):
    checkpoint = fit("configs/knn/breast_cancer.yaml")
    assert isinstance(load_detector(checkpoint), KNNDetector)
    report = tmp_path / "report"
    build_cli(
        [
            "certify",
            "--config",
            str(ROOT / "configs/knn/breast_cancer.yaml"),
            *FAST,
            *CERTIFIER,
            "--ckpt_path",
            str(checkpoint),
            "--report.out_dir",
            str(report),
        ]
    )
    printed = capsys.readouterr().out
    assert "percentile smoothing" in printed and "Lipschitz (unsmoothed)" in printed
    rows = read_certificates(report / "certificates.csv")
    assert len(rows) == 171  # 30 % of 569 rows
    for row in rows:
        for eps in ("0.25", "0.5", "1"):
            assert float(row[f"lower@{eps}"]) <= float(row["score"]) <= float(row[f"upper@{eps}"])
    results = json.loads((report / "results.json").read_text())
    smoothed, lipschitz = results["certified_auroc"], results["other_curves"]["Lipschitz (unsmoothed)"]
    assert len(smoothed) == len(lipschitz) == 5 and all(0 <= v <= 1 for v in smoothed + lipschitz)
    assert smoothed[1] >= smoothed[2] >= smoothed[3] >= smoothed[4]
    assert (report / "certified_auroc.png").stat().st_size > 1000


def test_certify_an_ocsdf_checkpoint_and_smooth_it_through_test(tmp_path):
    config = "configs/ocsdf/breast_cancer.yaml"
    checkpoint = fit(
        config, "--trainer.max_epochs", "2", "--model.init_args.width", "16", "--model.init_args.warmup_epochs", "1"
    )
    report = tmp_path / "certify"
    build_cli(
        [
            "certify",
            "--config",
            str(ROOT / config),
            *FAST,
            *CERTIFIER,
            "--epsilons",
            "[0.1, 0.2]",
            "--ckpt_path",
            str(checkpoint),
            "--report.out_dir",
            str(report),
        ]
    )
    assert [k for k in read_certificates(report / "certificates.csv")[0] if k.startswith("upper")] == [
        "upper@0",
        "upper@0.1",
        "upper@0.2",
    ]
    cli = build_cli(
        [
            "test",
            "--config",
            str(ROOT / config),
            *FAST,
            "--model",
            "lightning_occ.certify.SmoothedDetector",
            "--model.checkpoint",
            str(checkpoint),
            "--model.certifier.sigma",
            "1.0",
            "--model.certifier.n",
            "1000",
            "--model.certifier.alpha",
            "0.01",
            "--report.out_dir",
            str(tmp_path / "test"),
        ]
    )
    assert isinstance(cli.model.detector, OCSDF)
    metrics = cli.trainer.callback_metrics
    assert {"test/auroc", "test/certified_auroc@0.25", "test/certified_auroc@1"} <= set(metrics)


def test_certify_rejects_a_checkpoint_of_another_method(tmp_path):
    checkpoint = fit("configs/knn/breast_cancer.yaml")
    trainer = OCCTrainer(logger=False, enable_progress_bar=False)
    with pytest.raises(ValueError, match="holds a KNNDetector, but the configured model is a OCSDF"):
        trainer.certify(OCSDF(in_features=30), TabularDataModule("breast_cancer"), ckpt_path=str(checkpoint))


def test_certify_radius_beyond_sigma_is_explained(tmp_path):
    checkpoint = fit("configs/knn/breast_cancer.yaml")
    with pytest.raises(ValueError, match="largest radius it can certify is"):
        build_cli(
            [
                "certify",
                "--config",
                str(ROOT / "configs/knn/breast_cancer.yaml"),
                *FAST,
                "--certifier.sigma",
                "0.1",
                "--ckpt_path",
                str(checkpoint),
            ]
        )


def test_smoothed_detector_needs_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one"):
        SmoothedDetector()
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        SmoothedDetector(checkpoint="missing.ckpt")
