"""ScenarioDataModule: one-class and latent multi-class anomaly detection on image datasets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor
from torch.utils.data import Dataset

from lightning_occ.data.loaders import AnomalyDataLoaders
from lightning_occ.data.scenarios import resolve_normal_classes
from lightning_occ.data.unlabelled import UnlabelledDataset, read_image_folder
from lightning_occ.data.vision_sources import ImageTable, load_images

__all__ = ["ScenarioDataModule", "ScenarioDataset"]


class ScenarioDataset(Dataset):
    """Images in [0, 1] with the anomaly label (1 = anomaly) and the hidden sub-class label.

    Items are ``(image, is_anomaly, sub_label)``; the sub-label is for diagnostics (e.g. clustering
    purity), never for training.
    """

    def __init__(self, images: Tensor, is_anomaly: Tensor, sub_labels: Tensor) -> None:
        self.images, self.is_anomaly, self.sub_labels = images, is_anomaly, sub_labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        return self.images[index].float().div_(255.0), self.is_anomaly[index], self.sub_labels[index]


class ScenarioDataModule(AnomalyDataLoaders, L.LightningDataModule):
    """Image anomaly detection where a class or a super-category of classes is normal.

    Training uses only the normal images of the official train split, less a seeded, stratified
    validation part (normal and anomalous images, labels 1 = anomaly); the test set is the official
    test split (Tiny-ImageNet: the official ``val``). Pixels are in [0, 1], so certified radii are
    in pixel units.

    Args:
        dataset: ``mnist``, ``cifar10``, ``gtsrb``, ``tiny_imagenet``, ``digits`` (sklearn's 8x8
            digits, offline) or ``image_folder`` (``root`` holds ``train/<class>/`` and ``test/<class>/``,
            or the MVTec layout ``train/good/``, ``test/good/``, ``test/<defect>/`` with ``normal='good'``).
        normal: a super-category (CUR, STR, MIX, THG, LIV, SPDL, INST, WARN, DIRC, SPEC, REGN, ANML,
            ISCT, ISTM, STRT, VHCL), a class, or a list of classes; one class = the one-class scenario.
        root: the data folder; default ``$LIGHTNING_OCC_DATA`` or ``./data``.
        download: download when missing (needs network access).
        val_size: share of the train split held out for validation. When it holds no anomaly (MVTec:
            the train split is all ``good``), validation is skipped with a warning.
        image_size: ``image_folder`` only: resize to ``image_size x image_size`` (default: keep the
            native size, which all images must then share).
        batch_size: batch size of every loader.
        num_workers: DataLoader workers.
        seed: seed of the validation split and the training order.
        predict_path: a folder of images (no class sub-folders) for ``predict``; each must have the
            training images' size (or be resized by ``image_size``) and channel count.

    Example:
        >>> dm = ScenarioDataModule("digits", normal="CUR")
        >>> dm.setup()
        >>> dm.input_shape, dm.normal_classes
        ((1, 8, 8), [0, 3, 8])
    """

    def __init__(
        self,
        dataset: str = "digits",
        normal: str | int | Sequence[str | int] = "CUR",
        root: str | None = None,
        download: bool = False,
        val_size: float = 0.1,
        image_size: int | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        if not 0 < val_size < 1:
            raise ValueError(f"val_size must lie in (0, 1), got {val_size}.")
        self.save_hyperparameters()
        self._table: ImageTable | None = None
        self.normal_classes: list[int] = []
        self.train_dataset = self.val_dataset = self.test_dataset = None

    @property
    def table(self) -> ImageTable:
        if self._table is None:
            hp = self.hparams
            self._table = load_images(hp.dataset, Path(hp.root) if hp.root else None, hp.download, hp.image_size)
            self.normal_classes = resolve_normal_classes(
                hp.dataset, hp.normal, self._table.num_classes, self._table.class_names
            )
        return self._table

    def prepare_data(self) -> None:
        if self.hparams.download:
            load_images(self.hparams.dataset, self.hparams.root, download=True, image_size=self.hparams.image_size)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.table.train_images.shape[1:])

    def _is_anomaly(self, labels: Tensor) -> Tensor:
        return (~torch.isin(labels, torch.tensor(self.normal_classes))).long()

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        table, hp = self.table, self.hparams
        labels = table.train_labels
        rows = np.arange(len(labels))
        train_rows, val_rows = train_test_split(
            rows, test_size=hp.val_size, stratify=labels.numpy(), random_state=hp.seed
        )
        is_anomaly = self._is_anomaly(labels)
        train_rows = train_rows[is_anomaly[train_rows].numpy() == 0]
        train_rows, val_rows = torch.from_numpy(np.sort(train_rows)), torch.from_numpy(np.sort(val_rows))
        self.train_dataset = ScenarioDataset(table.train_images[train_rows], is_anomaly[train_rows], labels[train_rows])
        self.val_dataset = ScenarioDataset(table.train_images[val_rows], is_anomaly[val_rows], labels[val_rows])
        self.test_dataset = ScenarioDataset(table.test_images, self._is_anomaly(table.test_labels), table.test_labels)

    def preprocessing(self) -> dict[str, object]:
        """How an image becomes a model input."""
        return {
            "images": "channels first (C, H, W), pixel values / 255",
            "image_size": self.hparams.image_size,
            "dataset": self.hparams.dataset,
        }

    def unlabelled_inputs(self, path: str) -> UnlabelledDataset:
        return read_image_folder(path, self.input_shape, self.hparams.image_size)

    def train_features(self) -> Tensor:
        """All training images in [0, 1], shape (N, C, H, W)."""
        self.setup()
        return self.train_dataset.images.float().div_(255.0)

    def train_sub_labels(self) -> Tensor:
        """The hidden class of each training image, in ``train_features`` order (diagnostics only)."""
        self.setup()
        return self.train_dataset.sub_labels
