import numpy as np
import pytest
import scipy.io
import torch

from lightning_occ.data import TabularDataModule


def test_breast_cancer_split_is_stratified_seeded_and_one_class():
    dm = TabularDataModule("breast_cancer", seed=0)
    dm.setup()
    assert len(dm.test_dataset) == 171  # 30 % of 569
    assert int(dm.train_dataset.tensors[1].sum()) == 0  # one-class: normals only
    assert 0 < float(dm.val_dataset.tensors[1].float().mean()) < 1  # validation has both classes
    again = TabularDataModule("breast_cancer", seed=0)
    again.setup()
    assert torch.equal(again.test_dataset.tensors[0], dm.test_dataset.tensors[0])
    other = TabularDataModule("breast_cancer", seed=1)
    other.setup()
    assert not torch.equal(other.test_dataset.tensors[0], dm.test_dataset.tensors[0])


def test_scaler_is_fitted_on_training_rows_only():
    dm = TabularDataModule("breast_cancer", seed=0)
    dm.setup()
    train = dm.train_dataset.tensors[0]
    assert torch.allclose(train.mean(0), torch.zeros(30), atol=1e-4)
    assert torch.allclose(train.std(0, unbiased=False), torch.ones(30), atol=1e-3)
    assert not torch.allclose(dm.test_dataset.tensors[0].mean(0), torch.zeros(30), atol=1e-2)


def test_unsupervised_protocol_keeps_anomalies_in_training():
    dm = TabularDataModule("breast_cancer", protocol="unsupervised", seed=0)
    dm.setup()
    labels = dm.train_dataset.tensors[1]
    assert dm.contamination == pytest.approx(float(labels.float().mean()))
    assert 0.3 < dm.contamination < 0.45


def test_csv_file_with_named_label_column(tmp_path):
    path = tmp_path / "table.csv"
    rows = ["a,b,kind"] + [f"{i},{i % 7},{'bad' if i % 5 == 0 else 'good'}" for i in range(100)]
    path.write_text("\n".join(rows))
    dm = TabularDataModule(str(path), label_column="kind", normal_classes=["good"])
    dm.setup()
    assert dm.input_shape == (2,)
    assert dm.feature_names == ["a", "b"]
    assert int(dm.test_dataset.tensors[1].sum()) == 6  # 20 anomalies, 30 % in test


def test_missing_label_column_lists_the_columns(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b,target\n1,2,0\n")
    with pytest.raises(ValueError, match=r"'label' not found.*\['a', 'b', 'target'\]"):
        TabularDataModule(str(path), label_column="label")


def test_nan_and_inf_are_located(tmp_path):
    path = tmp_path / "table.npz"
    x = np.random.default_rng(0).normal(size=(50, 3))
    x[4, 1] = np.nan
    x[9, 2] = np.inf
    np.savez(path, X=x, y=(np.arange(50) % 5 == 0).astype(int))
    with pytest.raises(ValueError, match=r"2 row\(s\) \(first: \[4, 9\]\).*\['x1', 'x2'\]"):
        TabularDataModule(str(path))


def test_odds_mat_and_npy_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = (np.arange(80) % 8 == 0).astype(float).reshape(-1, 1)  # ODDS: column vector, 1 = outlier
    scipy.io.savemat(tmp_path / "odds.mat", {"X": x, "y": y})
    dm = TabularDataModule(str(tmp_path / "odds.mat"))
    dm.setup()
    assert dm.input_shape == (4,)
    assert int(dm.test_dataset.tensors[1].sum()) + int(dm.val_dataset.tensors[1].sum()) <= 10
    np.save(tmp_path / "table.npy", np.hstack([x, y]))
    from_npy = TabularDataModule(str(tmp_path / "table.npy"))
    assert from_npy.input_shape == (4,)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="breast_cancer, wine, digits, two_moons, blobs"):
        TabularDataModule("breast-cancer")


def test_missing_file_and_unknown_class_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TabularDataModule(str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match=r"\['7'\] not found.*classes are \['0', '1', '2'\]"):
        TabularDataModule("wine", normal_classes=[7])
