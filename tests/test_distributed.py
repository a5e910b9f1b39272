import pytest
import torch

from lightning_occ.data import UnpaddedDistributedSampler
from lightning_occ.models import KNNDetector
from tests.helpers.training import tiny_trainer


def assert_two_processes_test_like_one(model, datamodule) -> None:
    """Test metrics on 2 gloo processes equal the single-process ones on the same weights."""
    single = tiny_trainer().test(model, datamodule=datamodule, verbose=False)[0]
    double = tiny_trainer(devices=2, strategy="ddp_spawn").test(model, datamodule=datamodule, verbose=False)[0]
    assert double.keys() == single.keys()
    for name, value in single.items():
        assert double[name] == pytest.approx(value, abs=1e-7), name


def test_unpadded_sampler_covers_every_index_exactly_once():
    dataset = list(range(171))
    shards = [list(UnpaddedDistributedSampler(dataset, num_replicas=2, rank=r)) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == dataset
    assert [len(UnpaddedDistributedSampler(dataset, num_replicas=2, rank=r)) for r in range(2)] == [86, 85]


@pytest.mark.timeout(300)
def test_tabular_ocsdf_fit_on_two_processes_and_exact_test_metrics():
    from lightning_occ.data import TabularDataModule
    from lightning_occ.models import OCSDF

    datamodule = TabularDataModule("breast_cancer", batch_size=64)
    model = OCSDF(width=32, depth=2, warmup_epochs=1, negative_steps=2, epsilons=[0.25, 0.5])
    tiny_trainer(devices=2, strategy="ddp_spawn", max_epochs=3, limit_val_batches=0).fit(model, datamodule=datamodule)
    assert_two_processes_test_like_one(model, datamodule)
    assert len(datamodule.test_dataset) % 2 == 1


@pytest.mark.timeout(300)
def test_compact_vae_fit_on_two_processes_and_exact_test_metrics():
    from lightning_occ.data import TabularDataModule
    from lightning_occ.models import CompactVAE

    datamodule = TabularDataModule("breast_cancer", batch_size=64)
    model = CompactVAE(latent="lipschitz", latent_dim=4, hidden=32, epsilons=[0.25])
    tiny_trainer(devices=2, strategy="ddp_spawn", max_epochs=3, limit_val_batches=0).fit(model, datamodule=datamodule)
    assert model.bank.shape[0] == len(datamodule.train_features())  # the full training set's codes
    assert_two_processes_test_like_one(model, datamodule)


@pytest.mark.timeout(400)
def test_clad_fit_on_two_processes_and_exact_test_metrics():
    import lightning as L

    from lightning_occ.data import ScenarioDataModule
    from lightning_occ.data.scenario import ScenarioDataset
    from lightning_occ.models import CLAD

    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=64)
    datamodule.setup()
    test = datamodule.test_dataset
    datamodule.test_dataset = ScenarioDataset(test.images[:-1], test.is_anomaly[:-1], test.sub_labels[:-1])
    assert len(datamodule.test_dataset) % 2 == 1
    model = CLAD(num_clusters=4, latent_dim=4, ae_channels=(8, 8), ae_epochs=1, dec_epochs=1, classifier_epochs=1,
                 epsilons=[0.1])
    tiny_trainer(devices=2, strategy="ddp_spawn", max_epochs=3, limit_val_batches=0).fit(model, datamodule=datamodule)
    assert model.stage == "done" and int(model.classifier_steps) == 3  # 6 batches shared by 2 processes
    assert_two_processes_test_like_one(model, datamodule)


@pytest.mark.timeout(300)
def test_smoothed_detector_on_two_processes_certifies_like_one():
    from lightning_occ.certify import PercentileSmoothing, SmoothedDetector
    from lightning_occ.data import TabularDataModule

    datamodule = TabularDataModule("breast_cancer")
    datamodule.setup()
    assert len(datamodule.test_dataset) % 2 == 1
    knn = KNNDetector(k=5)
    knn.fit_bank(datamodule.train_features())
    smoothed = SmoothedDetector(knn, certifier=PercentileSmoothing(sigma=0.5, n=300, alpha=0.01), epsilons=[0.1])
    assert_two_processes_test_like_one(smoothed, datamodule)


@pytest.mark.timeout(300)
def test_knn_fit_on_two_processes_keeps_the_full_bank_and_exact_test_metrics():
    from lightning_occ.data import TabularDataModule

    datamodule = TabularDataModule("breast_cancer")
    knn = KNNDetector(k=5)
    tiny_trainer(devices=2, strategy="ddp_spawn", max_epochs=1, limit_val_batches=0).fit(knn, datamodule=datamodule)
    assert torch.equal(knn.bank, datamodule.train_features().flatten(1).float())
    assert_two_processes_test_like_one(knn, datamodule)
