"""Thresholds chosen on validation data, decision metrics, certified decisions and certified accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lightning_occ.cli import main
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.data import TabularDataModule
from lightning_occ.metrics import CertifiedAccuracy
from lightning_occ.metrics.decisions import certified_accuracy, choose_threshold, decision_metrics
from lightning_occ.models import KNNDetector
from lightning_occ.utils.attacks import PGDSettings, pgd_attack_scores

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def test_fpr_rule_keeps_validation_false_positives_at_most_the_target():
    scores = torch.linspace(0, 1, 101)
    target = torch.zeros(101, dtype=torch.long)
    for rate in (0.0, 0.05, 0.2):
        threshold = choose_threshold(scores, target, "fpr", rate)
        assert float((scores > threshold).double().mean()) <= rate
        assert float((scores >= threshold).double().mean()) > rate  # and no larger threshold would do


def test_contamination_rule_flags_that_fraction():
    scores = torch.randn(200, generator=torch.Generator().manual_seed(0))
    threshold = choose_threshold(scores, None, "contamination", 0.1)
    assert int((scores > threshold).sum()) == 20


def test_f1_rule_finds_the_best_f1_by_brute_force():
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(60, generator=generator)
    target = (scores + torch.randn(60, generator=generator) > 0.5).long()
    threshold = choose_threshold(scores, target, "f1")
    best = max(decision_metrics(scores, target, float(t))["f1"] for t in torch.cat([scores, scores.min()[None] - 1]))
    assert decision_metrics(scores, target, threshold)["f1"] == pytest.approx(best)


@pytest.mark.parametrize(
    "rule, value, message",
    [
        ("f1", 0.05, "needs anomalies in the validation split"),
        ("contamination", 0.6, "(0, 0.5]"),
        ("contamination", 0.0, "(0, 0.5]"),
        ("median", 0.05, "Unknown threshold rule"),
    ],
)
def test_bad_threshold_rules_say_what_to_use(rule, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")) as error:
        choose_threshold(torch.rand(10), torch.zeros(10, dtype=torch.long), rule, value)
    if rule == "f1":
        assert "fpr" in str(error.value) and "contamination" in str(error.value)


def fitted_knn() -> tuple[KNNDetector, TabularDataModule]:
    datamodule = TabularDataModule("breast_cancer")
    datamodule.setup()
    detector = KNNDetector(k=5, epsilons=[0.25, 0.5, 1.0])
    detector.fit_bank(datamodule.train_features())
    x, y = datamodule.val_dataset.tensors
    detector.set_threshold(choose_threshold(detector.score(x), y, "fpr", 0.05), "test")
    return detector, datamodule


def test_certified_accuracy_matches_a_brute_force_count_and_the_ddp_metric():
    detector, datamodule = fitted_knn()
    x, y = datamodule.test_dataset.tensors
    scores, error = detector.certified_scores(x)
    t = detector.threshold
    expected = []
    for eps in detector.epsilons:
        count = 0
        for s, label, e in zip(scores.tolist(), y.tolist(), error.tolist()):
            correct = (s > t) == bool(label)
            if correct and (eps == 0 or abs(s - t) > 1.0 * eps + 2 * e):
                count += 1
        expected.append(count / len(y))
    measured = certified_accuracy(scores, y, t, detector.epsilons, 1.0, error)
    assert measured.tolist() == pytest.approx(expected, abs=0)
    metric = CertifiedAccuracy(detector.epsilons, t, 1.0)
    for chunk in range(0, len(y), 50):  # batches, as a test loop (and each DDP process) sees them
        metric.update(scores[chunk : chunk + 50], y[chunk : chunk + 50], error[chunk : chunk + 50])
    assert metric.compute().tolist() == pytest.approx(expected, abs=1e-15)
    assert expected[0] > expected[-1] > 0  # the test means something


def test_no_certified_decision_flips_under_pgd_at_its_radius():
    detector, datamodule = fitted_knn()
    x, _ = datamodule.test_dataset.tensors
    decided = detector.decide(x)
    radius, decision = decided["certified_radius"], decided["decision"]
    certified = torch.nonzero(radius > 0).flatten()[:60]
    assert len(certified) >= 30
    flips_tried = 0
    for i in certified.tolist():
        eps = float(radius[i]) * 0.999
        # the attack pushes the score toward the threshold: down for a flagged input, up otherwise
        attacked = pgd_attack_scores(detector.score, x[i : i + 1], decision[i : i + 1], eps, PGDSettings(steps=30))
        assert (attacked > detector.threshold).long().item() == decision[i].item(), (i, eps)
        flips_tried += 1
        # beyond twice the radius the same attack does flip it (the radius is not vacuous)
    i = int(certified[0])
    far = pgd_attack_scores(
        detector.score, x[i : i + 1], decision[i : i + 1], 2.5 * float(radius[i]) + 1e-3, PGDSettings(steps=60)
    )
    assert (far > detector.threshold).long().item() != decision[i].item()
    assert flips_tried >= 30


@pytest.mark.parametrize(
    "config", ["knn/breast_cancer.yaml", "knn/digits_cur.yaml", "ocsdf/digits_cur.yaml", "ocsdf/breast_cancer.yaml"]
)
def test_the_test_table_shows_the_threshold_and_certified_accuracy(config, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    short = ["--trainer.max_epochs", "2", "--trainer.check_val_every_n_epoch", "1"] if "ocsdf" in config else []
    main(
        [
            "fit",
            "--config",
            str(ROOT / "configs" / config),
            *QUIET,
            *short,
            "--trainer.default_root_dir",
            "run",
            "--trainer.callbacks",
            "lightning.pytorch.callbacks.ModelCheckpoint",
            "--trainer.callbacks.dirpath",
            "run/ckpt",
            "--trainer.callbacks.save_last",
            "true",
            "--trainer.logger",
            "false",
        ]
    )
    checkpoint = tmp_path / "run" / "ckpt" / "last.ckpt"
    assert load_detector(checkpoint).threshold is not None
    capsys.readouterr()
    main(
        [
            "test",
            "--config",
            str(ROOT / "configs" / config),
            *QUIET,
            "--ckpt_path",
            str(checkpoint),
            "--report.out_dir",
            "report",
            "--trainer.logger",
            "false",
        ]
    )
    table = capsys.readouterr().out
    assert "Decision threshold" in table and "(FPR <= 5% on validation normals)" in table
    for word in ("precision", "recall", "F1", "FPR", "certified accuracy"):
        assert word in table
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert set(results["decisions"]) == {"precision", "recall", "f1", "fpr"}
    assert len(results["certified_accuracy"]) == len(results["epsilons"])
    assert results["certified_accuracy"] == sorted(results["certified_accuracy"], reverse=True)


def test_smoothing_certifies_decisions_and_counts_certified_accuracy_from_the_bounds():
    from lightning_occ.callbacks import EvaluationRecorder, Threshold
    from lightning_occ.certify import PercentileSmoothing, SmoothedDetector
    from tests.helpers.training import tiny_trainer

    detector, datamodule = fitted_knn()
    smoothed = SmoothedDetector(
        detector, certifier=PercentileSmoothing(sigma=0.5, n=1000, alpha=0.01), epsilons=[0.1, 0.3]
    )
    recorder = EvaluationRecorder()
    trainer = tiny_trainer(callbacks=[recorder, Threshold("fpr", 0.05)])
    trainer.validate(smoothed, datamodule=datamodule, verbose=False)  # the smoothed scores' own threshold
    trainer.test(smoothed, datamodule=datamodule, verbose=False)
    evaluation = recorder.latest["test"]
    t = smoothed.threshold
    assert t is not None and t != detector.threshold and evaluation.threshold == t
    expected = [float(((evaluation.scores > t) == evaluation.target.bool()).double().mean())]
    for k in (1, 2):
        count = 0
        for s, y, low, high in zip(
            evaluation.scores.tolist(),
            evaluation.target.tolist(),
            evaluation.lower[:, k].tolist(),
            evaluation.upper[:, k].tolist(),
        ):
            if (s > t) == bool(y) and ((s > t and low > t) or (s <= t and high <= t)):
                count += 1
        expected.append(count / len(evaluation.scores))
    assert evaluation.certified_accuracy.tolist() == pytest.approx(expected, abs=1e-12)
    assert expected[0] >= expected[1] >= expected[2] > 0
    x = datamodule.test_dataset.tensors[0][:8]
    decided = smoothed.decide(x)
    assert {"score", "decision", "certified_radius", "lower@0.1", "upper@0.3"} <= set(decided)
    assert set(decided["certified_radius"].tolist()) <= {0.0, 0.1, 0.3}


def test_f1_on_a_validation_split_without_anomalies_stops_before_training(tmp_path, monkeypatch, capsys):
    from tests.helpers.fake_datasets import write_mvtec_category

    monkeypatch.chdir(tmp_path)
    write_mvtec_category(tmp_path / "bottle")
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "fit",
                "--model",
                "lightning_occ.models.KNNDetector",
                "--data",
                "lightning_occ.data.ScenarioDataModule",
                "--data.init_args.dataset",
                "image_folder",
                "--data.init_args.root",
                str(tmp_path / "bottle"),
                "--data.init_args.normal",
                "good",
                "--threshold.rule",
                "f1",
                *QUIET,
                "--trainer.logger",
                "false",
            ]
        )
    assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert "'f1' needs anomalies in the validation split" in message and "--threshold.rule fpr" in message
    assert not list(tmp_path.rglob("*.ckpt"))  # nothing was trained


@pytest.mark.parametrize("value", ["0.7", "0"])
def test_a_contamination_outside_the_range_is_one_line(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "fit",
                "--config",
                str(ROOT / "configs/knn/breast_cancer.yaml"),
                "--threshold.rule",
                "contamination",
                "--threshold.value",
                value,
                *QUIET,
            ]
        )
    assert exit_.value.code == 2
    assert "contamination must lie in (0, 0.5]" in capsys.readouterr().err
