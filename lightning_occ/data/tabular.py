"""TabularDataModule: one-class and unsupervised anomaly detection on tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import lightning as L
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import TensorDataset

from lightning_occ.data.loaders import AnomalyDataLoaders
from lightning_occ.data.tabular_sources import check_finite, read_tabular
from lightning_occ.data.unlabelled import UnlabelledDataset, read_unlabelled_table

__all__ = ["TabularDataModule"]


class TabularDataModule(AnomalyDataLoaders, L.LightningDataModule):
    """Tabular anomaly-detection data with a seeded, stratified train/validation/test split.

    The whole table is split into a train side and a test side (stratified on the anomaly label);
    validation is a stratified part of the train side, never of the test side. Features are
    standardised with a scaler fitted on the training rows only, so a certificate radius ``eps``
    is measured in standardised units. Batches are ``(features, label)`` with 1 = anomaly.

    Args:
        dataset: a built-in name (``breast_cancer``, ``wine``, ``digits``, ``two_moons``, ``blobs``)
            or the path of a ``.csv`` (give ``label_column``), ``.npy`` (label column index, default
            last), ``.npz`` or ODDS ``.mat`` file (arrays ``X``, ``y`` with y = 1 for anomalies).
        normal_classes: the classes that count as normal; default per dataset (breast_cancer:
            ``["benign"]``; wine, digits: ``[0]``; files: ``[0]``; synthetic: the clean samples).
        label_column: CSV label column name, or NPY label column index.
        protocol: ``one_class`` trains on normal rows only; ``unsupervised`` trains on every
            training row (anomalies included, see :attr:`contamination`).
        test_size: share of all rows in the test split.
        val_size: share of the train side used for validation.
        standardize: fit a ``StandardScaler`` on the training rows.
        n_samples: size of synthetic datasets.
        batch_size: batch size of every loader.
        seed: seed of the split, the synthetic data and the training shuffle.
        num_workers: DataLoader workers.
        predict_path: a ``.csv`` (header row; the label column, if present, is left out) or ``.npy``
            table of unlabelled rows for ``predict``, scaled like the training rows.

    Example:
        >>> dm = TabularDataModule("breast_cancer", seed=0)
        >>> dm.setup()
        >>> dm.input_shape, len(dm.test_dataset)
        ((30,), 171)
    """

    def __init__(
        self,
        dataset: str = "breast_cancer",
        normal_classes: Sequence[str | int] | None = None,
        label_column: str | None = None,
        protocol: Literal["one_class", "unsupervised"] = "one_class",
        test_size: float = 0.3,
        val_size: float = 0.2,
        standardize: bool = True,
        n_samples: int = 1000,
        batch_size: int = 128,
        seed: int = 0,
        num_workers: int = 0,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        if protocol not in ("one_class", "unsupervised"):
            raise ValueError(f"protocol must be 'one_class' or 'unsupervised', got {protocol!r}.")
        for name, share in (("test_size", test_size), ("val_size", val_size)):
            if not 0 < share < 1:
                raise ValueError(f"{name} must be a fraction in (0, 1), got {share}.")
        self.save_hyperparameters()
        self.scaler: StandardScaler | None = None
        self.contamination = 0.0
        self._setup_done = False
        # Read eagerly: a wrong path, label column or NaN surfaces when the config is parsed.
        self.table = read_tabular(dataset, label_column=label_column, n_samples=n_samples, seed=seed)
        check_finite(self.table.features, self.table.feature_names)
        self.normal_classes = self._resolve_normal_classes(normal_classes)

    def _resolve_normal_classes(self, normal_classes: Sequence[str | int] | None) -> list[str]:
        present = sorted(set(self.table.classes.tolist()))
        chosen = [str(c) for c in (normal_classes if normal_classes is not None else self.table.default_normal)]
        unknown = [c for c in chosen if c not in present]
        if unknown or not chosen:
            raise ValueError(
                f"normal_classes {unknown or chosen} not found in {self.hparams.dataset!r}; its classes are {present}."
            )
        if set(chosen) == set(present):
            raise ValueError(
                f"normal_classes {chosen} covers every class of {self.hparams.dataset!r}: nothing is anomalous."
            )
        return chosen

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.table.features.shape[1],)

    @property
    def feature_names(self) -> list[str]:
        return self.table.feature_names

    @property
    def is_anomaly(self) -> np.ndarray:
        return ~np.isin(self.table.classes, self.normal_classes)

    def setup(self, stage: str | None = None) -> None:
        if self._setup_done:
            return
        hp = self.hparams
        labels = self.is_anomaly.astype(np.int64)
        rows = np.arange(len(labels))
        train_side, test_rows = train_test_split(rows, test_size=hp.test_size, stratify=labels, random_state=hp.seed)
        train_rows, val_rows = train_test_split(
            train_side, test_size=hp.val_size, stratify=labels[train_side], random_state=hp.seed
        )
        if hp.protocol == "one_class":
            train_rows = train_rows[labels[train_rows] == 0]
        self.contamination = float(labels[train_rows].mean())
        features = self.table.features
        if hp.standardize:
            self.scaler = StandardScaler().fit(features[train_rows])
            features = self.scaler.transform(features)
        x = torch.as_tensor(features, dtype=torch.float32)
        y = torch.as_tensor(labels)
        self.train_dataset, self.val_dataset, self.test_dataset = (
            TensorDataset(x[r], y[r]) for r in (train_rows, val_rows, test_rows)
        )
        self._setup_done = True

    def preprocessing(self) -> dict[str, object]:
        """How a raw row becomes a model input: the training rows' scaler, per feature."""
        self.setup()
        if self.scaler is None:
            return {"features": self.feature_names, "standardize": None}
        return {
            "features": self.feature_names,
            "standardize": {"mean": self.scaler.mean_.tolist(), "scale": self.scaler.scale_.tolist()},
            "formula": "(x - mean) / scale",
        }

    def unlabelled_inputs(self, path: str) -> UnlabelledDataset:
        self.setup()
        transform = self.scaler.transform if self.scaler is not None else None
        return read_unlabelled_table(path, self.input_shape[0], [self.hparams.label_column or ""], transform)

    def train_features(self) -> torch.Tensor:
        """All training features (after scaling), e.g. to fit a memory bank or noise statistics."""
        self.setup()
        return self.train_dataset.tensors[0]
