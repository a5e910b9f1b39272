import torch

from lightning_occ.data import TabularDataModule
from lightning_occ.models import KNNDetector
from tests.helpers.training import tiny_trainer


def test_knn_score_is_mean_distance_and_1_lipschitz():
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(200, 5, generator=g)
    detector = KNNDetector(k=3)
    detector.fit_bank(bank)
    x = torch.randn(2000, 5, generator=g)
    expected = (x.double()[:, None] - bank.double()[None]).norm(dim=2).sort(1).values[:, :3].mean(1)
    assert torch.allclose(detector.score(x), expected, rtol=0, atol=1e-12)
    y = x + torch.logspace(-3, 0, 2000).unsqueeze(1) * torch.randn(x.shape, generator=g)
    ratio = (detector.score(x) - detector.score(y)).abs() / (x - y).norm(dim=1)
    assert float(ratio.max()) <= detector.lipschitz_bound * (1 + 1e-4)


def test_knn_fits_through_a_trainer_and_matches_sklearn_split_figure(tmp_path):
    datamodule = TabularDataModule("breast_cancer", seed=0)
    detector = KNNDetector(k=5)
    trainer = tiny_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(detector, datamodule=datamodule)
    assert detector.bank.shape == datamodule.train_features().shape
    result = tiny_trainer().test(detector, datamodule=datamodule, verbose=False)[0]
    assert abs(result["test/auroc"] - 0.934) < 0.005  # the reference figure for this split
    trainer.save_checkpoint(tmp_path / "knn.ckpt")
    restored = KNNDetector.load_from_checkpoint(tmp_path / "knn.ckpt")
    x = datamodule.test_dataset.tensors[0]
    assert torch.equal(restored.score(x), detector.score(x))


def test_knn_k_larger_than_bank_is_refused():
    import pytest

    with pytest.raises(ValueError, match="larger than the 3 training samples"):
        KNNDetector(k=5).fit_bank(torch.zeros(3, 2))


def test_exact_knn_falls_back_to_the_whole_bank_when_candidates_are_not_separated():
    """Bank points closer together than the float32 search can tell apart: the candidate gap test fails
    and the queries are redone against the whole bank; the result is still the float64 brute force."""
    from lightning_occ.nn.nearest import exact_knn, knn_relative_error

    g = torch.Generator().manual_seed(0)
    centre = torch.rand(1, 50, generator=g)
    bank = torch.cat([centre + 1e-4 * torch.randn(40, 50, generator=g), torch.rand(200, 50, generator=g)])
    queries = centre + 1e-4 * torch.randn(3, 50, generator=g)
    values, indices = exact_knn(queries, bank, k=3)
    brute = (queries.double()[:, None] - bank.double()[None]).norm(dim=2)
    expected = brute.sort(1).values[:, :3]
    assert torch.allclose(values, expected, rtol=knn_relative_error(50, 3), atol=0)
    assert torch.equal(brute.gather(1, indices), values) or torch.allclose(brute.gather(1, indices), values, rtol=1e-12)
