"""PGD attack on scores: closed form for a linear score; certified <= attacked <= clean on trained models."""

import pytest
import torch

from lightning_occ.callbacks import AttackCheck, EvaluationRecorder
from lightning_occ.models import KNNDetector
from lightning_occ.utils.attacks import PGDSettings, attacked_auroc, pgd_attack_scores
from tests.helpers.training import tiny_trainer, trained_tiny_ocsdf

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane


def test_pgd_reaches_the_worst_case_of_a_linear_score():
    w = torch.tensor([3.0, -4.0])
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1] * 5)
    attacked = pgd_attack_scores(lambda z: z @ w, x, target, eps=0.5, settings=PGDSettings(steps=50))
    worst = x @ w + torch.where(target.bool(), -0.5, 0.5) * w.norm()
    gap = torch.where(target.bool(), attacked - worst, worst - attacked)
    assert float(gap.min()) >= -1e-4  # never beyond the true worst case
    assert float(gap.max()) <= 0.05 * 0.5 * float(w.norm())  # and close to it (PGD is empirical)


def test_attack_stays_in_the_box():
    seen = []

    def score(z):
        seen.append(z.detach().clone())
        return z.sum(1)

    pgd_attack_scores(score, torch.full((4, 3), 0.95), torch.tensor([0, 0, 1, 1]), 0.5, PGDSettings(low=0.0, high=1.0))
    assert all(float(z.min()) >= 0.0 and float(z.max()) <= 1.0 for z in seen)


def assert_sound_ordering(clean: float, attacked: torch.Tensor, certified: torch.Tensor) -> None:
    for k in range(1, len(attacked)):
        assert certified[k] <= attacked[k] + 1e-12, (k, certified, attacked)
        assert attacked[k] <= clean + 1e-12
    assert attacked[-1] < clean  # the attack does something


def test_certified_at_most_attacked_at_most_clean_for_a_trained_ocsdf():
    model, datamodule = trained_tiny_ocsdf(epochs=120)
    model.epsilons = [0.0, 0.25, 0.5, 1.0]
    recorder = EvaluationRecorder()
    tiny_trainer(callbacks=[AttackCheck(steps=20), recorder]).test(model, datamodule=datamodule, verbose=False)
    evaluation = recorder.latest["test"]
    assert_sound_ordering(evaluation.auroc, evaluation.other_curves["attacked AUROC (PGD)"], evaluation.certified)


def test_attack_check_callback_on_a_knn_detector():
    from lightning_occ.data import TabularDataModule

    datamodule = TabularDataModule("breast_cancer")
    datamodule.setup()
    detector = KNNDetector(k=5, epsilons=[0.5, 1.0, 2.0])
    detector.fit_bank(datamodule.train_features())
    recorder = EvaluationRecorder()
    results = tiny_trainer(callbacks=[AttackCheck(steps=10), recorder]).test(
        detector, datamodule=datamodule, verbose=False
    )[0]
    evaluation = recorder.latest["test"]
    assert_sound_ordering(evaluation.auroc, evaluation.other_curves["attacked AUROC (PGD)"], evaluation.certified)
    assert abs(results["test/attacked_auroc@2"] - float(evaluation.other_curves["attacked AUROC (PGD)"][-1])) < 1e-6
    x, y = datamodule.test_dataset.tensors
    direct = attacked_auroc(detector.score, x, y, [2.0], PGDSettings(steps=10))
    assert abs(float(direct[0]) - results["test/attacked_auroc@2"]) < 0.01  # other batches, other random starts


def test_results_json_reports_how_loose_the_certificate_is(tmp_path):
    import json

    from lightning_occ.callbacks.report_files import write_report
    from lightning_occ.data import TabularDataModule

    datamodule = TabularDataModule("breast_cancer")
    datamodule.setup()
    detector = KNNDetector(k=5, epsilons=[0.5, 1.0])
    detector.fit_bank(datamodule.train_features())
    recorder = EvaluationRecorder()
    tiny_trainer(callbacks=[AttackCheck(steps=10), recorder]).test(detector, datamodule=datamodule, verbose=False)
    evaluation = recorder.latest["test"]
    write_report(evaluation, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    attacked = evaluation.other_curves["attacked AUROC (PGD)"]
    for k, eps in enumerate(evaluation.epsilons[1:], start=1):
        gap = results["attacked_minus_certified"][f"{eps:g}"]
        assert gap == float(attacked[k]) - float(evaluation.certified[k])
        assert gap >= 0
    assert 0 < results["max_score_rounding_error"] < 1e-9


def test_apgd_and_the_combined_attack_reach_the_worst_case_of_a_linear_score():
    from lightning_occ.utils.attacks import apgd_attack_scores, strongest_attack_scores

    w = torch.tensor([3.0, -4.0], dtype=torch.float64)
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    target = torch.tensor([0, 1] * 5)
    worst = x @ w + torch.where(target.bool(), -0.5, 0.5) * w.norm()
    for attacked in (
        apgd_attack_scores(lambda z: z @ w, x, target, 0.5),
        strongest_attack_scores(lambda z: z @ w, x, target, 0.5),
    ):
        gap = torch.where(target.bool(), attacked - worst, worst - attacked)
        assert float(gap.min()) >= -1e-9  # never beyond the true worst case
        assert float(gap.max()) <= 1e-3 * float(w.norm())  # and at it, up to the step control
