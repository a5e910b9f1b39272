"""Distributed training and evaluation on 2 CPU processes (gloo): every detector fitted under DDP
tests to the same metrics on 2 processes as on one, with uneven test shards (no padded duplicates).

CLAD goes through Lightning's `ddp_spawn` launcher (the model and its stage state are pickled to the
workers); the other detectors share one pair of externally launched `ddp` processes
(tests/helpers/two_process_jobs.py) to keep the suite's time down.
"""

import pytest
import torch

from lightning_occ.data import ScenarioDataModule, TabularDataModule, UnpaddedDistributedSampler
from lightning_occ.models import CLAD, OCSDF, CompactVAE, KNNDetector
from tests.helpers.training import tiny_trainer
from tests.helpers.two_process_jobs import run_jobs_on_two_processes

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane


def assert_same_metrics(double: dict, single: dict) -> None:
    assert double.keys() == single.keys()
    for name, value in single.items():
        assert double[name] == pytest.approx(value, abs=1e-7), name


def metrics_on_one_process(model, datamodule) -> dict:
    return tiny_trainer().test(model, datamodule=datamodule, verbose=False)[0]


def ocsdf_job():
    model = OCSDF(width=32, depth=2, warmup_epochs=1, negative_steps=2, epsilons=[0.25, 0.5])
    return model, TabularDataModule("breast_cancer", batch_size=64), 3


def compact_vae_job():
    model = CompactVAE(latent="lipschitz", latent_dim=4, hidden=32, epsilons=[0.25])
    return model, TabularDataModule("breast_cancer", batch_size=64), 3


def knn_job():
    return KNNDetector(k=5), TabularDataModule("breast_cancer"), 1


def smoothed_knn_job():
    from lightning_occ.certify import PercentileSmoothing, SmoothedDetector

    datamodule = TabularDataModule("breast_cancer")
    datamodule.setup()
    knn = KNNDetector(k=5)
    knn.fit_bank(datamodule.train_features())
    smoothed = SmoothedDetector(knn, certifier=PercentileSmoothing(sigma=0.5, n=300, alpha=0.01), epsilons=[0.1])
    return smoothed, datamodule, 0


JOBS = {"ocsdf": ocsdf_job, "compact_vae": compact_vae_job, "knn": knn_job, "smoothed_knn": smoothed_knn_job}


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    return run_jobs_on_two_processes(JOBS, tmp_path_factory.mktemp("ddp"))


def reloaded(name: str, runs: dict):
    """The job's model as trained on 2 processes (or as built, for a job without fitting) and its data."""
    assert runs[name]["world_size"] == 2
    model, datamodule, _ = JOBS[name]()
    if runs[name]["checkpoint"] is not None:
        model = type(model).load_from_checkpoint(runs[name]["checkpoint"])
    return model, datamodule


def test_unpadded_sampler_covers_every_index_exactly_once():
    dataset = list(range(171))
    shards = [list(UnpaddedDistributedSampler(dataset, num_replicas=2, rank=r)) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == dataset
    assert [len(UnpaddedDistributedSampler(dataset, num_replicas=2, rank=r)) for r in range(2)] == [86, 85]


@pytest.mark.timeout(400)
def test_tabular_ocsdf_fit_on_two_processes_and_exact_test_metrics(two_process_runs):
    model, datamodule = reloaded("ocsdf", two_process_runs)
    assert model.lipschitz_bound <= 1 + 1e-4
    assert_same_metrics(two_process_runs["ocsdf"]["metrics"], metrics_on_one_process(model, datamodule))
    assert len(datamodule.test_dataset) % 2 == 1  # uneven shards: padding would show
    assert {"test/auroc", "test/certified_auroc@0.25", "test/certified_auroc@0.5"} <= two_process_runs["ocsdf"][
        "metrics"
    ].keys()


@pytest.mark.timeout(400)
def test_compact_vae_fit_on_two_processes_and_exact_test_metrics(two_process_runs):
    model, datamodule = reloaded("compact_vae", two_process_runs)
    assert model.bank.shape[0] == len(datamodule.train_features())  # the full training set's codes
    assert_same_metrics(two_process_runs["compact_vae"]["metrics"], metrics_on_one_process(model, datamodule))


@pytest.mark.timeout(400)
def test_knn_fit_on_two_processes_keeps_the_full_bank_and_exact_test_metrics(two_process_runs):
    knn, datamodule = reloaded("knn", two_process_runs)
    assert torch.equal(knn.bank, datamodule.train_features().flatten(1).float())
    assert_same_metrics(two_process_runs["knn"]["metrics"], metrics_on_one_process(knn, datamodule))


@pytest.mark.timeout(400)
def test_smoothed_detector_on_two_processes_certifies_like_one(two_process_runs):
    smoothed, datamodule = reloaded("smoothed_knn", two_process_runs)
    assert len(datamodule.test_dataset) % 2 == 1
    assert "test/certified_auroc@0.1" in two_process_runs["smoothed_knn"]["metrics"]
    assert_same_metrics(two_process_runs["smoothed_knn"]["metrics"], metrics_on_one_process(smoothed, datamodule))


@pytest.mark.timeout(400)
def test_clad_fit_on_two_processes_and_exact_test_metrics():
    import lightning as L

    from lightning_occ.data.scenario import ScenarioDataset

    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=64)
    datamodule.setup()
    test = datamodule.test_dataset
    datamodule.test_dataset = ScenarioDataset(test.images[:-1], test.is_anomaly[:-1], test.sub_labels[:-1])
    assert len(datamodule.test_dataset) % 2 == 1
    model = CLAD(
        num_clusters=4, latent_dim=4, ae_channels=(8, 8), ae_epochs=1, dec_epochs=1, classifier_epochs=1, epsilons=[0.1]
    )
    tiny_trainer(devices=2, strategy="ddp_spawn", max_epochs=3, limit_val_batches=0).fit(model, datamodule=datamodule)
    assert model.stage == "done" and int(model.classifier_steps) == 3  # 6 batches shared by 2 processes
    single = metrics_on_one_process(model, datamodule)
    double = tiny_trainer(devices=2, strategy="ddp_spawn").test(model, datamodule=datamodule, verbose=False)[0]
    assert_same_metrics(double, single)
